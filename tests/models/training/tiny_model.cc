#include "tests/models/training/tiny_model.h"

#include <string>

#include "models/layers.h"

namespace dlf::training {

Value TinyNet(Graph& g, Value images, const models::ModelOptions& o) {
  models::Sequential s(g, "net", images);
  s.Flatten().Linear(32).Relu().Dropout(o.dropout).Linear(o.num_classes, false);
  return s.output();
}

TrainConfig TinyTrainConfig() {
  TrainConfig c;
  c.run.model = "tiny";
  c.run.dataset = "synthetic";
  c.run.input_shape = {1, 8, 8};
  c.run.mean = {0.5f};
  c.run.std = {0.25f};
  for (int k = 0; k < 10; ++k) c.run.class_names.push_back("class " + std::to_string(k));
  c.build = TinyNet;
  c.model_options.num_classes = 10;
  c.model_options.dropout = 0;
  c.batch_size = 16;
  c.epochs = 2;
  c.lr = 0.05;
  c.seed = 3;
  c.verbose = false;
  c.eval_batch_size = 50;
  return c;
}

}  // namespace dlf::training

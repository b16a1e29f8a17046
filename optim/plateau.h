#ifndef DLF_OPTIM_PLATEAU_H_
#define DLF_OPTIM_PLATEAU_H_

// Watching a metric that should fall (a validation loss) for a plateau, as PyTorch's
// ReduceLROnPlateau (mode "min", threshold_mode "rel", no cooldown) and Keras' EarlyStopping do.

#include <cstdint>
#include <limits>

namespace dlf::optim {

struct PlateauTracker {
  double best = std::numeric_limits<double>::infinity();
  int64_t bad_epochs = 0;  // epochs since the best

  // Records `value`: an improvement when it is below best * (1 - threshold), which resets the
  // count; otherwise (also for NaN) one more bad epoch. Returns whether it improved.
  bool Update(double value, double threshold = 1e-4);
};

// ReduceLROnPlateau: after Update, once bad_epochs exceeds `patience`, the factor is
// multiplied by `gamma` and the count restarts. Returns whether it reduced.
bool ReduceOnPlateau(PlateauTracker& tracker, int64_t patience, double gamma, double& factor);

}  // namespace dlf::optim

#endif  // DLF_OPTIM_PLATEAU_H_

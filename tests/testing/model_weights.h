#ifndef DLF_TESTS_TESTING_MODEL_WEIGHTS_H_
#define DLF_TESTS_TESTING_MODEL_WEIGHTS_H_

#include "graph/graph.h"

namespace dlf::testing {

// Gives every f32 parameter whose values are all zero (a ViT's head and class token, biases)
// small values of its own, so that a comparison of two implementations' outputs checks it too:
// a zero head makes every logit 0, whatever the layers before it compute.
void SetZeroParameters(Graph& g);

// Adds 0.5 sin(1.3 i + k) to element i of the k-th parameter: weights away from an
// initialization whose small values make every output nearly alike (a GPT's 0.02 gives nearly
// uniform logits) and whose zero biases would go unchecked.
void PerturbParameters(Graph& g);

}  // namespace dlf::testing

#endif  // DLF_TESTS_TESTING_MODEL_WEIGHTS_H_

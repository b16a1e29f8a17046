#include "optim/plateau.h"

namespace dlf::optim {

bool PlateauTracker::Update(double value, double threshold) {
  if (value < best * (1 - threshold)) {
    best = value;
    bad_epochs = 0;
    return true;
  }
  ++bad_epochs;
  return false;
}

bool ReduceOnPlateau(PlateauTracker& tracker, int64_t patience, double gamma, double& factor) {
  if (tracker.bad_epochs <= patience) return false;
  factor *= gamma;
  tracker.bad_epochs = 0;
  return true;
}

}  // namespace dlf::optim

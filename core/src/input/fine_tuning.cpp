#include "asteroid/input/fine_tuning.hpp"

#include <cctype>

namespace asteroid {
namespace {

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string range_text(int a, int b) {
  return a == b ? "layer " + std::to_string(a) : "layers " + std::to_string(a) + "-" + std::to_string(b);
}

}  // namespace

LayerLaw layer_law(const Profile& p, const TrainingLayers* t, int l) {
  const LayerProfile& L = p.layers[size_t(l)];
  LayerLaw law;
  law.weight_bytes = law.trainable_bytes = L.param_bytes;
  law.stored_bytes_per_sample = L.stored_activation_bytes_per_sample;
  if (!t || t->full()) return law;
  const LayerTraining& lt = t->layers[size_t(l)];
  law.weight_bytes = L.param_bytes + lt.added_param_bytes;
  law.trainable_bytes = (lt.frozen ? 0 : L.param_bytes) + lt.added_param_bytes;
  law.backward = l >= t->first_backward;
  law.weight_gradient = !lt.frozen;
  law.stored_bytes_per_sample =
      law.backward ? L.stored_activation_bytes_per_sample + lt.added_stored_bytes_per_sample : 0;
  // Added maps only go on layers with linear maps, whose parameter bytes are positive.
  law.added_time_factor = L.param_bytes > 0 ? lt.added_param_bytes / L.param_bytes : 0;
  law.optimizer_factor = L.param_bytes > 0 ? law.trainable_bytes / L.param_bytes : 0;
  return law;
}

double gradient_bytes_per_sample(const Profile& p, const TrainingLayers* t, int l) {
  if (t && !t->full() && l < t->first_backward) return 0;
  return p.layers[size_t(l)].output_activation_bytes_per_sample;
}

Result<TrainingLayers> resolve_fine_tuning(const FineTuningSpec& spec, const Profile& p) {
  const std::string at = "training.fine_tuning";
  const int L = int(p.layers.size());
  TrainingLayers t;
  if (!spec.given) return t;
  t.layers.assign(size_t(L), LayerTraining{});
  auto fail = [&](const std::string& path, const std::string& message) { return Error{"", at + path, message}; };

  // Frozen layers: the prefix, then the listed ones.
  std::vector<std::string> said;
  if (spec.frozen_prefix > L)
    return fail(".frozen_prefix", std::to_string(spec.frozen_prefix) + " layers, but the model has " +
                                      std::to_string(L));
  for (int l = 0; l < spec.frozen_prefix; ++l) t.layers[size_t(l)].frozen = true;
  if (spec.frozen_prefix > 0) said.push_back(range_text(0, spec.frozen_prefix - 1) + " frozen");
  for (size_t i = 0; i < spec.frozen.size(); ++i) {
    const std::string& s = spec.frozen[i];
    const std::string path = ".frozen[" + std::to_string(i) + "]";
    int a = -1, b = -1;
    for (int l = 0; l < L && a < 0; ++l)
      if (p.layers[size_t(l)].name == s) a = b = l;
    if (a < 0) {
      auto dash = s.find('-');
      if (all_digits(s)) {
        a = b = std::stoi(s);
      } else if (dash != std::string::npos && all_digits(s.substr(0, dash)) && all_digits(s.substr(dash + 1))) {
        a = std::stoi(s.substr(0, dash));
        b = std::stoi(s.substr(dash + 1));
        if (a > b) return fail(path, "range \"" + s + "\" runs backwards");
      } else {
        return fail(path, "\"" + s + "\" is neither a layer of " + p.model +
                              " nor a layer index or range of indices such as \"3-9\"");
      }
      if (b >= L)
        return fail(path, "layer index " + std::to_string(b) + " is out of range: the model has layers 0-" +
                              std::to_string(L - 1));
    }
    for (int l = a; l <= b; ++l) t.layers[size_t(l)].frozen = true;
    said.push_back(range_text(a, b) + " frozen");
  }

  // LoRA and adapters freeze every layer's own weights; the layers frozen above get none.
  const bool added = spec.lora_rank > 0 || spec.adapter_width > 0;
  std::vector<bool> listed(static_cast<size_t>(L), false);
  for (int l = 0; l < L; ++l) listed[size_t(l)] = t.layers[size_t(l)].frozen;
  if (added)
    for (LayerTraining& lt : t.layers) lt.frozen = true;
  for (size_t i = 0; i < spec.lora_maps.size(); ++i) {
    const std::string& name = spec.lora_maps[i];
    bool found = false;
    for (int l = 0; l < L; ++l) {
      const LinearMap* m = p.layers[size_t(l)].map(name);
      if (!m || listed[size_t(l)]) continue;
      found = true;
      const long long r = spec.lora_rank;
      if (r > std::min(m->in_features, m->out_features))
        return fail(".lora.rank", "rank " + std::to_string(r) + " is larger than the map \"" + name + "\" of layer \"" +
                                      p.layers[size_t(l)].name + "\" (" + std::to_string(m->in_features) + " x " +
                                      std::to_string(m->out_features) + ")");
      // A (r x in) and B (out x r); backward keeps A's output (r per row) for B's gradient.
      const double e = m->bytes_per_element();
      t.layers[size_t(l)].added_param_bytes += double(r) * double(m->in_features + m->out_features) * e;
      t.layers[size_t(l)].added_stored_bytes_per_sample += double(m->rows_per_sample) * double(r) * e;
    }
    if (!found)
      return fail(".lora.maps[" + std::to_string(i) + "]",
                  "no trainable layer of " + p.model + " has a linear map \"" + name +
                      "\" (a trace lists a layer's maps under linear_maps)");
  }
  if (spec.lora_rank > 0) said.insert(said.begin(), "LoRA rank " + std::to_string(spec.lora_rank) + " on " + join(spec.lora_maps));
  for (size_t i = 0; i < spec.adapter_after.size(); ++i) {
    const std::string& name = spec.adapter_after[i];
    bool found = false;
    for (int l = 0; l < L; ++l) {
      const LinearMap* m = p.layers[size_t(l)].map(name);
      if (!m || listed[size_t(l)]) continue;
      found = true;
      // Down (d -> w) and up (w -> d) with biases, d the map's output width; backward keeps the
      // adapter's input (d) and its hidden layer before and after the nonlinearity (2 w) per row.
      const double d = double(m->out_features), w = spec.adapter_width, e = m->bytes_per_element();
      if (spec.adapter_width > m->out_features)
        return fail(".adapters.width", "width " + std::to_string(spec.adapter_width) + " is wider than the output (" +
                                           std::to_string(m->out_features) + ") of map \"" + name + "\" of layer \"" +
                                           p.layers[size_t(l)].name + "\": it would be no bottleneck");
      t.layers[size_t(l)].added_param_bytes += (2 * d * w + w + d) * e;
      t.layers[size_t(l)].added_stored_bytes_per_sample += double(m->rows_per_sample) * (d + 2 * w) * e;
    }
    if (!found)
      return fail(".adapters.after[" + std::to_string(i) + "]",
                  "no trainable layer of " + p.model + " has a linear map \"" + name +
                      "\" (a trace lists a layer's maps under linear_maps)");
  }
  if (spec.adapter_width > 0)
    said.insert(said.begin() + (spec.lora_rank > 0 ? 1 : 0),
                "adapters of width " + std::to_string(spec.adapter_width) + " after " + join(spec.adapter_after));

  t.first_backward = L;
  for (int l = 0; l < L && t.first_backward == L; ++l) {
    const LayerTraining& lt = t.layers[size_t(l)];
    if ((!lt.frozen && p.layers[size_t(l)].param_bytes > 0) || lt.added_param_bytes > 0) t.first_backward = l;
  }
  if (t.first_backward == L)
    return fail("", "nothing trains: every layer with parameters is frozen and no LoRA or adapter is added");
  t.summary = said.empty() ? "full" : join(said);
  if (t.first_backward > 0) t.summary += "; no backward through " + range_text(0, t.first_backward - 1);
  return t;
}

}  // namespace asteroid

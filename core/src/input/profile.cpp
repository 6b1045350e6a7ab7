#include "asteroid/input/profile.hpp"

#include <cmath>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

double interpolate_time(const std::vector<double>& bs, const std::vector<double>& t, double y) {
  if (y <= 0) return 0;
  size_t n = bs.size();
  if (n == 1 || y <= bs[0]) return t[0] * y / bs[0];
  size_t i = 1;
  while (i < n - 1 && bs[i] < y) ++i;
  // Segment [i-1, i]; beyond the last point the last segment is extended.
  double w = (y - bs[i - 1]) / (bs[i] - bs[i - 1]);
  return t[i - 1] + w * (t[i] - t[i - 1]);
}

static LayerProfile parse_layer(const JsonReader& r, size_t num_batches) {
  r.allow_only({"name", "class", "fwd_flops_per_sample", "bwd_flops_per_sample", "param_bytes",
                "output_activation_bytes_per_sample", "stored_activation_bytes_per_sample", "fwd_s", "bwd_s",
                "flops_by_class", "bytes_by_class", "bytes_moved_per_sample", "kernels", "optimizer_step_s", "linear_maps"});
  LayerProfile l;
  l.name = r.at("name").string();
  if (r.has("class")) l.layer_class = r.at("class").string();
  auto nonneg = [&](const char* key, bool required, double max) {
    if (!required && !r.has(key)) return 0.0;
    return r.at(key).number_in(0, max);
  };
  l.fwd_flops_per_sample = nonneg("fwd_flops_per_sample", false, limits::kMaxLayerFlops);
  l.bwd_flops_per_sample = nonneg("bwd_flops_per_sample", false, limits::kMaxLayerFlops);
  l.param_bytes = nonneg("param_bytes", true, limits::kMaxLayerBytes);
  l.output_activation_bytes_per_sample = nonneg("output_activation_bytes_per_sample", true, limits::kMaxLayerBytes);
  l.stored_activation_bytes_per_sample = nonneg("stored_activation_bytes_per_sample", true, limits::kMaxLayerBytes);
  for (auto [key, out] : {std::pair{"fwd_s", &l.fwd_s}, std::pair{"bwd_s", &l.bwd_s}}) {
    JsonReader arr = r.at(key);
    if (arr.size() != num_batches)
      arr.fail("has " + std::to_string(arr.size()) + " values but batch_sizes has " + std::to_string(num_batches));
    for (size_t i = 0; i < arr.size(); ++i) out->push_back(arr.at(i).number_in(0, limits::kMaxLayerSeconds));
  }
  if (r.has("optimizer_step_s")) {
    JsonReader o = r.at("optimizer_step_s");
    o.require_object();
    for (const std::string& key : o.keys()) {
      if (!kOptimizers.parse(key)) o.at(key.c_str()).fail(kOptimizers.must_be(key));
      l.optimizer_step_s[key] = o.at(key.c_str()).number_in(0, limits::kMaxLayerSeconds);
    }
  }
  if (r.has("linear_maps")) {
    // {"query": {"in_features": 512, "out_features": 512, "weight_bytes": 1048576, "rows_per_sample": 128}}
    JsonReader maps = r.at("linear_maps");
    maps.require_object();
    double weights = 0;
    for (const std::string& key : maps.keys()) {
      JsonReader m = maps.at(key.c_str());
      m.allow_only({"in_features", "out_features", "weight_bytes", "rows_per_sample"});
      LinearMap lm;
      lm.name = key;
      lm.in_features = m.at("in_features").integer_in(1, limits::kMaxMapFeatures);
      lm.out_features = m.at("out_features").integer_in(1, limits::kMaxMapFeatures);
      lm.weight_bytes = m.at("weight_bytes").number_in(1, limits::kMaxLayerBytes);
      if (m.has("rows_per_sample")) lm.rows_per_sample = m.at("rows_per_sample").integer_in(1, limits::kMaxMapFeatures);
      if (lm.weight_bytes < double(lm.in_features) * double(lm.out_features))
        m.at("weight_bytes").fail("less than one byte per element of its " + std::to_string(lm.in_features) +
                                  " x " + std::to_string(lm.out_features) + " matrix");
      weights += lm.weight_bytes;
      l.linear_maps.push_back(lm);
    }
    // The maps are part of the layer: their weights are among its parameters.
    if (weights > l.param_bytes * (1 + 1e-9))
      maps.fail("the maps' weight_bytes add up to " + std::to_string((long long)weights) + ", more than the layer's param_bytes " +
                std::to_string((long long)l.param_bytes));
  }
  return l;
}

Result<Profile> parse_profile(const nlohmann::json& j, const std::string& file) {
  try {
    JsonReader r(j, "");
    r.allow_only(
        {"schema_version", "device_type", "device", "model", "input", "provenance", "batch_sizes", "layers"});
    long long version = r.at("schema_version").integer();
    if (version != 1)
      r.at("schema_version")
          .fail("this program reads schema_version 1; the file has " + std::to_string(version) +
                (version > 1 ? " (from a newer version?)" : ""));
    Profile p;
    p.device_type = r.at("device_type").string();
    JsonReader dev = r.at("device");
    dev.allow_only({"memory_bytes", "usable_memory_bytes", "description", "power_mode"});
    p.memory_bytes = dev.at("memory_bytes").number_in(limits::kMinMemoryBytes, limits::kMaxMemoryBytes);
    p.usable_memory_bytes = dev.at("usable_memory_bytes").number_in(0, limits::kMaxMemoryBytes);
    if (p.usable_memory_bytes <= 0 || p.usable_memory_bytes > p.memory_bytes)
      dev.at("usable_memory_bytes").fail("must be positive and at most memory_bytes");
    if (dev.has("description")) p.extra_device = dev.at("description").json();
    if (dev.has("power_mode")) {
      p.power_mode = dev.at("power_mode").string();
      if (p.power_mode.empty()) dev.at("power_mode").fail("must not be empty");
    }
    p.model = r.at("model").string();
    if (r.has("input")) p.input = r.at("input").string();
    JsonReader prov = r.at("provenance");
    prov.require_object();
    std::string kind = prov.at("kind").string();
    if (kind != "measured" && kind != "derived" && kind != "synthetic")
      prov.at("kind").fail("must be \"measured\", \"derived\" or \"synthetic\", found \"" + kind + "\"");
    p.provenance = prov.json();
    JsonReader bs = r.at("batch_sizes");
    for (size_t i = 0; i < bs.size_at_most(limits::kMaxTraceBatchSizes); ++i)
      p.batch_sizes.push_back(double(bs.at(i).integer_in(1, limits::kMaxBatchSize)));
    if (p.batch_sizes.empty()) bs.fail("must list at least one batch size");
    for (size_t i = 1; i < p.batch_sizes.size(); ++i)
      if (p.batch_sizes[i] <= p.batch_sizes[i - 1]) bs.at(i).fail("batch sizes must increase");
    JsonReader layers = r.at("layers");
    if (layers.size_at_most(limits::kMaxLayers) == 0) layers.fail("must list at least one layer");
    for (size_t i = 0; i < layers.size(); ++i)
      p.layers.push_back(parse_layer(layers.at(i), p.batch_sizes.size()));
    return p;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  } catch (const nlohmann::json::exception& e) {
    return Error{file, "", std::string("unreadable JSON value: ") + e.what()};
  }
}

Result<Profile> load_profile(const std::string& file) {
  auto j = read_json_file(file);
  if (!j) return j.error();
  return parse_profile(j.value(), file);
}

nlohmann::json profile_to_json(const Profile& p) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : p.layers) {
    nlohmann::json jl = {{"name", l.name},
                         {"fwd_flops_per_sample", l.fwd_flops_per_sample},
                         {"bwd_flops_per_sample", l.bwd_flops_per_sample},
                         {"param_bytes", l.param_bytes},
                         {"output_activation_bytes_per_sample", l.output_activation_bytes_per_sample},
                         {"stored_activation_bytes_per_sample", l.stored_activation_bytes_per_sample},
                         {"fwd_s", l.fwd_s},
                         {"bwd_s", l.bwd_s}};
    if (!l.layer_class.empty()) jl["class"] = l.layer_class;
    if (!l.optimizer_step_s.empty()) jl["optimizer_step_s"] = l.optimizer_step_s;
    if (!l.linear_maps.empty()) {
      nlohmann::json maps = nlohmann::json::object();
      for (const LinearMap& m : l.linear_maps)
        maps[m.name] = {{"in_features", m.in_features}, {"out_features", m.out_features},
                        {"weight_bytes", m.weight_bytes}, {"rows_per_sample", m.rows_per_sample}};
      jl["linear_maps"] = maps;
    }
    layers.push_back(jl);
  }
  nlohmann::json device = {{"memory_bytes", p.memory_bytes}, {"usable_memory_bytes", p.usable_memory_bytes}};
  if (!p.extra_device.is_null()) device["description"] = p.extra_device;
  if (!p.power_mode.empty()) device["power_mode"] = p.power_mode;
  nlohmann::json bs = nlohmann::json::array();
  for (double b : p.batch_sizes) bs.push_back((long long)b);
  return {{"schema_version", 1}, {"device_type", p.device_type}, {"device", device},  {"model", p.model},
          {"input", p.input},    {"provenance", p.provenance},   {"batch_sizes", bs}, {"layers", layers}};
}

std::string layer_list_mismatch(const Profile& a, const Profile& b) {
  if (a.model != b.model) return "model \"" + a.model + "\" differs from \"" + b.model + "\"";
  if (a.layers.size() != b.layers.size())
    return std::to_string(a.layers.size()) + " layers differ from " + std::to_string(b.layers.size());
  auto close = [](double x, double y) { return std::fabs(x - y) <= 1e-6 * std::max(1.0, std::fabs(x)); };
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const auto& x = a.layers[i];
    const auto& y = b.layers[i];
    std::string at = "layer " + std::to_string(i) + " ";
    if (x.name != y.name) return at + "is \"" + x.name + "\" in one and \"" + y.name + "\" in the other";
    if (!close(x.param_bytes, y.param_bytes)) return at + "(" + x.name + ") has different param_bytes";
    if (!close(x.output_activation_bytes_per_sample, y.output_activation_bytes_per_sample))
      return at + "(" + x.name + ") has different output_activation_bytes_per_sample";
    if (!close(x.stored_activation_bytes_per_sample, y.stored_activation_bytes_per_sample))
      return at + "(" + x.name + ") has different stored_activation_bytes_per_sample";
    if (x.linear_maps.size() != y.linear_maps.size()) return at + "(" + x.name + ") has different linear_maps";
    for (size_t m = 0; m < x.linear_maps.size(); ++m) {
      const LinearMap& u = x.linear_maps[m];
      const LinearMap* v = y.map(u.name);
      if (!v || v->in_features != u.in_features || v->out_features != u.out_features ||
          !close(v->weight_bytes, u.weight_bytes) || v->rows_per_sample != u.rows_per_sample)
        return at + "(" + x.name + ") has a different linear map \"" + u.name + "\"";
    }
  }
  return "";
}

}  // namespace asteroid

#include "asteroid/input/model_archive.hpp"

#include <filesystem>

#include "asteroid/input/json_reader.hpp"

namespace asteroid {

Result<ModelArchive> read_model_archive(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string file = (fs::path(dir) / "model.json").string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error{dir, "", "no such model archive folder (tools/import_model/import_model.py writes one)"};
  auto j = read_json_file(file);
  if (!j) return j.error();
  try {
    JsonReader r(*j, "");
    r.allow_only({"schema_version", "kind", "model", "source", "constructor_args", "input", "sample_shape",
                  "input_dtype", "vocab", "output_shape", "parameters", "granularity", "chain_check",
                  "torch_version", "layers"});
    if (r.at("schema_version").integer() != 1) r.at("schema_version").fail("only version 1 is known");
    if (r.at("kind").string() != "asteroid model archive") r.at("kind").fail("not an asteroid model archive");
    ModelArchive a;
    a.dir = dir;
    a.model = r.at("model").string();
    a.input = r.at("input").string();
    a.source = r.at("source").string();
    a.input_dtype = r.at("input_dtype").string();
    if (a.input_dtype != "float32" && a.input_dtype != "int64")
      r.at("input_dtype").fail("must be float32 or int64, not \"" + a.input_dtype + "\"");
    for (long long d : r.at("sample_shape").positive_integers()) a.sample_shape.push_back(d);
    for (long long d : r.at("output_shape").positive_integers()) a.output_shape.push_back(d);
    if (a.sample_shape.empty()) r.at("sample_shape").fail("must name at least one dimension");
    a.vocab = r.at("vocab").integer();
    if (a.input_dtype == "int64" && a.vocab < 1) r.at("vocab").fail("int64 inputs need a vocabulary of 1 or more");
    JsonReader layers = r.at("layers");
    const size_t n = layers.size_at_most(100000);
    if (n == 0) layers.fail("an archive holds at least one layer");
    const fs::path root = fs::weakly_canonical(fs::path(dir), ec);
    for (size_t i = 0; i < n; ++i) {
      JsonReader l = layers.at(i);
      l.allow_only({"name", "file", "sha256", "fx_nodes"});
      ArchiveLayer al;
      al.name = l.at("name").string();
      const std::string rel = l.at("file").string();
      const fs::path p = fs::weakly_canonical(root / rel, ec);
      const std::string ps = p.string(), rs = root.string() + "/";
      if (fs::path(rel).is_absolute() || ps.compare(0, rs.size(), rs) != 0)
        l.at("file").fail("must lie inside the archive folder");
      if (!fs::is_regular_file(p, ec)) l.at("file").fail("no such file " + ps);
      al.file = ps;
      al.sha256 = l.at("sha256").string();
      if (al.sha256.size() != 64 || al.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
        l.at("sha256").fail("must be 64 lower-case hex digits");
      a.layers.push_back(std::move(al));
    }
    return a;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  }
}

}  // namespace asteroid

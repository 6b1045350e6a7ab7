#!/bin/sh
# The layering of the tree (docs/architecture.md): core/ is backend-free, so it includes no SimGrid,
# torch (torch, c10, ATen) or Gloo header; sim/ and exec/ are two backends of one core and never
# include each other's headers (any header that lives in the other folder, or the other's library);
# exec/ uses libtorch's C++ API only, never its distributed library (c10d, which Jetson builds of
# libtorch may lack: docs/jetson.md), and talks through Gloo directly; core's folders include only
# the folders before them (input, model, program, planning, report, run); inside exec/runtime/, the
# coordinator's process and the workers' never include each other's headers.
# Prints every offending line and exits 1 when there is one.
src=${1:?usage: include_check.sh SOURCE_DIR}
bad=0
inc='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'
check() {  # check DIR REGEX WHAT
  hits=$(grep -rnE "$inc($2)" "$src/$1" --include='*.cpp' --include='*.hpp' --include='*.h' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "$1/ must not include $3:"
    echo "$hits"
    bad=1
  fi
}
headers_of() {  # the header names of a folder, as one alternation
  find "$src/$1" -name '*.hpp' -o -name '*.h' | sed 's#.*/##; s#\.#\\.#g' | sort -u | paste -sd'|'
}
torch='torch/|c10/|ATen/|caffe2/|gloo/'
simgrid='simgrid/|xbt/'
check core "$simgrid|$torch" "SimGrid, torch or Gloo headers"
check sim "$torch|(.*/)?($(headers_of exec))\"" "exec/'s or torch headers"
check exec "$simgrid|(.*/)?($(headers_of sim))\"" "sim/'s or SimGrid headers"
check exec "torch/csrc/distributed/" "libtorch's distributed (c10d) headers"
# core's folders by concern, in order (core/CMakeLists.txt): each includes only the ones before it.
layers="input model program planning report run"
later=$layers
for f in $layers; do
  later=${later#"$f"}; later=${later# }
  [ -z "$later" ] && break
  alt=$(echo "$later" | tr ' ' '|')
  check core/include/asteroid/$f "(asteroid/)?($alt)/" "core's later folders ($later)"
  check core/src/$f "(asteroid/)?($alt)/" "core's later folders ($later)"
done
# asteroid-exec's two kinds of process (exec/runtime/CMakeLists.txt): the coordinator and the
# workers never include each other's headers; what both speak (control/) includes neither.
rt=exec/runtime
check $rt/control "(.*/)?($(headers_of $rt/coordinator)|$(headers_of $rt/worker))\"" "the coordinator's or the workers' headers"
check $rt/coordinator "(.*/)?($(headers_of $rt/worker))\"" "the workers' headers"
check $rt/worker "(.*/)?($(headers_of $rt/coordinator))\"" "the coordinator's headers"
# The check must be able to fail: a planted include in a copy of core/ is found.
tmp=$(mktemp -d)
mkdir -p "$tmp/core" && echo '#include <ATen/ATen.h>' > "$tmp/core/planted.cpp"
grep -rqE "$inc($simgrid|$torch)" "$tmp/core" || { echo "include_check: missed a planted include"; bad=1; }
rm -rf "$tmp"
[ $bad -eq 0 ] && echo "layering holds: core/ is backend-free, its folders in order ($layers); sim/ and exec/ are independent; exec/ needs no c10d; exec's coordinator and workers are independent"
exit $bad

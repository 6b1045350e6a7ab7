# Shared by the command-line test scripts (sourced, after they set $tmp): counting failures, and
# checking that bad input is refused the way every binary promises.

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_error NAME SUBSTRING COMMAND...: exit status 2, one line on stderr holding SUBSTRING,
# nothing on stdout.
expect_error() {
  name="$1"; want="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ "$rc" -eq 2 ] || fail "$name: exit status $rc, expected 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$name: stderr is not one line: $(cat "$tmp/err")"
  grep -q -- "$want" "$tmp/err" || fail "$name: stderr lacks \"$want\": $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && fail "$name: wrote to stdout"
}

# finish NAME: the script's exit status and last line.
finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "$1: all checks passed"
}

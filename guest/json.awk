# Hull guest agent: decode one JSON request object (one line on stdin) into
# shell assignments for `eval`:
#   "id": 7                  ->  J_id='7'
#   "cwd": "/tmp"            ->  J_cwd='/tmp'
#   "exec": ["sh","-c","x"]  ->  J_exec=''\''sh'\'' ...'   (words for `eval "set -- $J_exec"`)
#   nested objects           ->  skipped
# Anything it cannot read sets J_error. Strings may hold any character but NUL.
# The request is the environment's HULL_REQ when set (the agent's way: no pipe to fork), else stdin.
function fail(why) { if (!err) err = why; pos = n + 1 }
function ws() { while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++ }
function sq(x) { gsub(/'/, "'\\''", x); return "'" x "'" }
function hexval(h,   i, v, c) {
  v = 0
  for (i = 1; i <= length(h); i++) {
    c = index("0123456789abcdef", tolower(substr(h, i, 1)))
    if (!c) { fail("bad \\u escape"); return 0 }
    v = v * 16 + c - 1
  }
  return v
}
function utf8(c) {
  if (c < 128) return sprintf("%c", c)
  if (c < 2048) return sprintf("%c%c", 192 + int(c / 64), 128 + c % 64)
  if (c < 65536) return sprintf("%c%c%c", 224 + int(c / 4096), 128 + int(c / 64) % 64, 128 + c % 64)
  return sprintf("%c%c%c%c", 240 + int(c / 262144), 128 + int(c / 4096) % 64, 128 + int(c / 64) % 64, 128 + c % 64)
}
function str(   out, c, cp, lo) {
  if (substr(s, pos, 1) != "\"") { fail("expected a string"); return "" }
  pos++
  out = ""
  while (pos <= n) {
    if (match(substr(s, pos), /^[^"\\]+/)) { out = out substr(s, pos, RLENGTH); pos += RLENGTH; continue }
    c = substr(s, pos, 1)
    if (c == "\"") { pos++; return out }
    c = substr(s, pos + 1, 1)
    pos += 2
    if (c == "n") out = out "\n"
    else if (c == "t") out = out "\t"
    else if (c == "r") out = out "\r"
    else if (c == "b") out = out "\b"
    else if (c == "f") out = out "\f"
    else if (c == "u") {
      cp = hexval(substr(s, pos, 4)); pos += 4
      if (cp == 0) { fail("NUL in a string"); return "" }
      if (cp >= 55296 && cp < 56320 && substr(s, pos, 2) == "\\u") {
        lo = hexval(substr(s, pos + 2, 4)); pos += 6
        cp = 65536 + (cp - 55296) * 1024 + (lo - 56320)
      }
      out = out utf8(cp)
    } else out = out c
  }
  fail("unterminated string")
  return ""
}
function scalar() {
  if (match(substr(s, pos), /^(-?[0-9][0-9.eE+-]*|true|false|null)/)) { pos += RLENGTH; return substr(s, pos - RLENGTH, RLENGTH) }
  fail("bad value at " pos)
  return ""
}
# An array of strings and scalars, as shell words.
function words(   w, c) {
  pos++
  w = ""
  ws()
  if (substr(s, pos, 1) == "]") { pos++; return w }
  while (pos <= n) {
    ws()
    c = substr(s, pos, 1)
    if (c == "\"") w = w " " sq(str())
    else w = w " " sq(scalar())
    ws()
    c = substr(s, pos, 1)
    pos++
    if (c == "]") return w
    if (c != ",") fail("bad array")
  }
  fail("unterminated array")
  return w
}
function skip(   depth, c) {
  depth = 0
  while (pos <= n) {
    c = substr(s, pos, 1)
    if (c == "\"") { str(); continue }
    pos++
    if (c == "{" || c == "[") depth++
    else if (c == "}" || c == "]") { if (--depth == 0) return }
  }
}
BEGIN { if ("HULL_REQ" in ENVIRON) { s = ENVIRON["HULL_REQ"]; parse(); done = 1; exit } }
{ s = s (NR > 1 ? "\n" : "") $0 }
END { if (!done) parse() }
function parse(   key, v, c) {
  n = length(s); pos = 1; err = ""
  ws()
  if (substr(s, pos, 1) != "{") fail("not a JSON object")
  pos++
  while (pos <= n) {
    ws()
    if (substr(s, pos, 1) == "}") break
    key = str()
    ws()
    if (substr(s, pos, 1) != ":") fail("expected :")
    pos++
    ws()
    c = substr(s, pos, 1)
    if (c == "\"") v = sq(str())
    else if (c == "[") v = sq(words())
    else if (c == "{") { skip(); v = "" }
    else v = sq(scalar())
    gsub(/[^A-Za-z0-9_]/, "_", key)
    if (v != "" && !err) print "J_" key "=" v
    ws()
    c = substr(s, pos, 1)
    if (c == ",") pos++
    else if (c != "}") fail("expected , or }")
  }
  if (err) print "J_error=" sq(err)
}

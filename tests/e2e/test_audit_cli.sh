#!/usr/bin/env bash
# End-to-end: `mhguard keys` and `mhguard audit` against a real SQLite data
# directory; the audit chain is tampered with using the sqlite3 command (as
# someone with file access would) and `audit verify` must say where.
# An independent Python check recomputes every exported hash.
set -euo pipefail

BIN=${MHGUARD_BIN:?MHGUARD_BIN must point at the mhguard binary}
command -v sqlite3 >/dev/null || { echo "sqlite3 command not found (apt install sqlite3)"; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found"; exit 1; }

T=$(mktemp -d /tmp/mhg_e2e_audit.XXXXXX)
trap 'rm -rf "$T"' EXIT
D=$T/data
DB=$D/mhguard.db
unset MHG_DATA_HOME
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# expect CODE DESCRIPTION -- command...   (stdout+stderr kept in $T/out)
expect() {
  local want=$1 what=$2; shift 3
  set +e; "$@" >"$T/out" 2>&1; local got=$?; set -e
  if [ "$got" -ne "$want" ]; then fail "$what: exit $got, want $want"; sed 's/^/     /' "$T/out"
  else ok "$what"; fi
}
contains() { # FILE TEXT DESCRIPTION
  if grep -qF -- "$2" "$1"; then ok "$3"; else fail "$3: '$2' not in output"; sed 's/^/     /' "$1"; fi
}

# ---- help and usage -------------------------------------------------------
expect 0 "keys --help" -- "$BIN" keys --help
contains "$T/out" "create --role ROLE" "keys help lists create"
expect 0 "audit --help" -- "$BIN" audit --help
contains "$T/out" "verify" "audit help lists verify"
expect 0 "audit verify --help" -- "$BIN" audit verify --help
expect 2 "keys without subcommand" -- "$BIN" keys
expect 2 "audit unknown subcommand" -- "$BIN" audit frobnicate
expect 2 "keys create without role" -- "$BIN" keys create --data-dir "$D"
expect 2 "keys create bad role" -- "$BIN" keys create --role wizard --data-dir "$D"
[ ! -e "$D" ] && ok "bad role did not create the data directory" || fail "data directory created on a usage error"

# ---- keys -----------------------------------------------------------------
"$BIN" keys create --role app --label "chat app" --data-dir "$D" >"$T/key1" 2>"$T/err1"
KEY1=$(cat "$T/key1")
[[ "$KEY1" =~ ^mhg_app_[A-Za-z0-9_-]{43}$ ]] && ok "app key format" || fail "app key format: '$KEY1'"
contains "$T/err1" "shown only this once" "key creation warns it is shown once"
[ "$(stat -c %a "$D")" = 700 ] && ok "data dir is 0700" || fail "data dir mode $(stat -c %a "$D")"
[ "$(stat -c %a "$DB")" = 600 ] && ok "database is 0600" || fail "database mode $(stat -c %a "$DB")"
SECRET=${KEY1#mhg_app_}
if grep -qaF -- "$SECRET" "$D"/* 2>/dev/null; then fail "plaintext key found in the data directory"
else ok "only the key hash is stored"; fi

KEY2=$("$BIN" keys create --role reviewer --data-dir "$D" 2>/dev/null)
[[ "$KEY2" =~ ^mhg_reviewer_ ]] && ok "reviewer key" || fail "reviewer key: $KEY2"
[ "$KEY1" != "$KEY2" ] && ok "keys differ" || fail "same key twice"

expect 0 "keys list" -- "$BIN" keys list --data-dir "$D"
contains "$T/out" "chat app" "list shows the label"
contains "$T/out" "active" "list shows the state"
if grep -qF -- "$SECRET" "$T/out"; then fail "keys list prints the secret"; else ok "list hides secrets"; fi
"$BIN" keys list --json --data-dir "$D" >"$T/keys.json"
python3 - "$T/keys.json" <<'EOF' && ok "keys list --json" || fail "keys list --json"
import json, sys
keys = json.load(open(sys.argv[1]))
assert [k["role"] for k in keys] == ["app", "reviewer"], keys
assert all(k["revoked_ms"] is None for k in keys)
EOF

expect 0 "revoke key 1" -- "$BIN" keys revoke 1 --data-dir "$D"
expect 0 "revoke key 1 again" -- "$BIN" keys revoke 1 --data-dir "$D"
expect 2 "revoke unknown key" -- "$BIN" keys revoke 99 --data-dir "$D"
contains "$T/out" "no API key with id 99" "revoke names the missing id"
expect 2 "revoke without id" -- "$BIN" keys revoke --data-dir "$D"
"$BIN" keys list --data-dir "$D" >"$T/out"
grep -E '^1 +app +revoked' "$T/out" >/dev/null && ok "key 1 shows revoked" || fail "key 1 not revoked"
expect 2 "list on a missing data dir" -- "$BIN" keys list --data-dir "$T/nowhere"
[ ! -e "$T/nowhere" ] && ok "list did not create a data dir" || fail "list created a data dir"

# MHG_DATA_HOME is the default data directory.
MHG_DATA_HOME="$D" "$BIN" keys list >"$T/out" 2>&1 && contains "$T/out" "reviewer" "MHG_DATA_HOME is honoured" || fail "MHG_DATA_HOME"

# More audited events: 4 key events so far (two creates, two revokes: each
# revoke is audited), 4 more creates -> 8 records.
for i in 1 2 3 4; do "$BIN" keys create --role auditor --label "a$i" --data-dir "$D" >/dev/null 2>&1; done

# ---- audit: intact chain --------------------------------------------------
expect 0 "verify intact chain" -- "$BIN" audit verify --data-dir "$D"
contains "$T/out" "OK: 8 records" "verify counts 8 records"
"$BIN" audit head --data-dir "$D" >"$T/head"
HEAD=$(cat "$T/head")
[[ "$HEAD" =~ ^8:[0-9a-f]{64}$ ]] && ok "audit head" || fail "audit head: $HEAD"
"$BIN" audit verify --json --data-dir "$D" >"$T/v.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] and r["records"]==8 and r["fault"]=="ok"' "$T/v.json" \
  && ok "verify --json" || fail "verify --json"
expect 0 "verify with a matching anchor" -- "$BIN" audit verify --anchor "$HEAD" --data-dir "$D"
expect 2 "malformed anchor" -- "$BIN" audit verify --anchor "8:xyz" --data-dir "$D"

expect 0 "export to file" -- "$BIN" audit export --out "$T/audit.jsonl" --data-dir "$D"
contains "$T/out" "exported 8 records" "export reports the count"
"$BIN" audit export --data-dir "$D" >"$T/stdout.jsonl" 2>/dev/null
cmp -s "$T/audit.jsonl" "$T/stdout.jsonl" && ok "export to stdout matches file" || fail "export stdout differs"
# Independent check: recompute every hash from the export alone.
python3 - "$T/audit.jsonl" "${HEAD#*:}" <<'EOF' && ok "export verifies independently (Python BLAKE2b)" || fail "independent export check"
import hashlib, json, sys
prev = "0" * 64
n = 0
for line in open(sys.argv[1], encoding="ascii"):
    j = json.loads(line)
    n += 1
    rec = line[line.index('"record":') + 9 : line.rstrip("\n").rindex("}")]
    assert j["seq"] == n and j["prev_hash"] == prev, (n, j)
    h = hashlib.blake2b(bytes.fromhex(prev) + rec.encode("ascii"), digest_size=32).hexdigest()
    assert h == j["hash"], (n, h, j["hash"])
    assert json.loads(rec)["seq"] == n
    for banned in ("text", "message", "content"):
        assert banned not in j["record"], banned
    prev = h
assert n == 8 and prev == sys.argv[2]
EOF

# Auditing never changes the store: verify/export/head open it read-only.
cp "$DB" "$T/pristine.db"
sum_before=$(sha256sum "$DB" | cut -d' ' -f1)
"$BIN" audit verify --data-dir "$D" >/dev/null
[ "$(sha256sum "$DB" | cut -d' ' -f1)" = "$sum_before" ] && ok "verify leaves the database unchanged" || fail "verify modified the database"

restore() { cp "$T/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"; }

# ---- audit: tampering with the sqlite3 command ----------------------------
restore
sqlite3 "$DB" "UPDATE audit_log SET record = replace(record, 'auditor', 'admin') WHERE seq = 6;"
expect 1 "edited record detected" -- "$BIN" audit verify --data-dir "$D"
contains "$T/out" "TAMPERED at record 6 (hash_mismatch)" "edit located at record 6"

restore
sqlite3 "$DB" "DELETE FROM audit_log WHERE seq = 5;"
expect 1 "deleted record detected" -- "$BIN" audit verify --data-dir "$D"
contains "$T/out" "TAMPERED at record 5 (seq_gap)" "deletion located at record 5"

restore
sqlite3 "$DB" "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1;"
expect 1 "reordered records detected" -- "$BIN" audit verify --data-dir "$D"
contains "$T/out" "TAMPERED at record 2 (seq_mismatch)" "reordering located at record 2"

restore
sqlite3 "$DB" "UPDATE audit_log SET hash = '$(printf 'f%.0s' $(seq 64))' WHERE seq = 7;"
expect 1 "changed hash detected" -- "$BIN" audit verify --data-dir "$D"
contains "$T/out" "TAMPERED at record 7 (hash_mismatch)" "hash change located at record 7"

restore
sqlite3 "$DB" "UPDATE audit_log SET seq = -seq WHERE seq >= 3; UPDATE audit_log SET seq = -seq + 1 WHERE seq < 0;
  INSERT INTO audit_log(seq, prev_hash, hash, record) SELECT 3, hash, hash, '{\"event\":\"forged\",\"seq\":3,\"v\":1}' FROM audit_log WHERE seq = 2;"
expect 1 "inserted record detected" -- "$BIN" audit verify --data-dir "$D"
contains "$T/out" "TAMPERED at record 3" "insertion located at record 3"

restore
sqlite3 "$DB" "DELETE FROM audit_log WHERE seq >= 7;"
expect 0 "truncated chain alone looks intact" -- "$BIN" audit verify --data-dir "$D"
expect 1 "truncation caught by the anchor" -- "$BIN" audit verify --anchor "$HEAD" --data-dir "$D"
contains "$T/out" "anchor_mismatch" "anchor mismatch reported"
"$BIN" audit verify --anchor "$HEAD" --json --data-dir "$D" >"$T/v.json" || true
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert not r["ok"] and r["fault"]=="anchor_mismatch" and r["bad_seq"]==8' "$T/v.json" \
  && ok "anchor failure in --json" || fail "anchor failure in --json"

# ---- audit: errors ----------------------------------------------------------
expect 2 "verify without a data dir" -- "$BIN" audit verify --data-dir "$T/nowhere"
mkdir -p "$T/empty"
expect 2 "verify on a data dir without a database" -- "$BIN" audit verify --data-dir "$T/empty"
[ ! -e "$T/empty/mhguard.db" ] && ok "verify did not create a database" || fail "verify created a database"
mkdir -p "$T/bad"; head -c 8192 /dev/urandom >"$T/bad/mhguard.db"
expect 2 "verify on a garbage database" -- "$BIN" audit verify --data-dir "$T/bad"
expect 2 "export to an unwritable path" -- "$BIN" audit export --out "$T/no/such/dir/x.jsonl" --data-dir "$D"
expect 2 "--data-dir and --store together" -- "$BIN" audit verify --data-dir "$D" --store "sqlite:$DB"
restore
expect 0 "verify through --store URL" -- "$BIN" audit verify --store "sqlite:$DB"

# ---- the same through PostgreSQL (when scripts/test-services.sh started it) --
if [ -n "${MHG_TEST_PG_URL:-}" ] && command -v psql >/dev/null; then
  SCHEMA="mhg_e2e_$$"
  psql "$MHG_TEST_PG_URL" -qc "SET client_min_messages=warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" \
    && ok "pg: schema created" || fail "pg: cannot create a schema"
  case "$MHG_TEST_PG_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
  PGURL="$MHG_TEST_PG_URL${sep}options=-csearch_path%3D$SCHEMA"
  PKEY=$("$BIN" keys create --role admin --store "$PGURL" 2>/dev/null) && [[ "$PKEY" =~ ^mhg_admin_ ]] \
    && ok "pg: keys create" || fail "pg: keys create"
  for i in 1 2 3; do "$BIN" keys create --role app --store "$PGURL" >/dev/null 2>&1; done
  expect 0 "pg: keys revoke" -- "$BIN" keys revoke 2 --store "$PGURL"
  expect 0 "pg: verify intact chain" -- "$BIN" audit verify --store "$PGURL"
  contains "$T/out" "OK: 5 records" "pg: 5 records"
  N=$("$BIN" audit export --store "$PGURL" 2>/dev/null | wc -l)
  [ "$N" -eq 5 ] && ok "pg: export" || fail "pg: export gave $N lines"
  psql "$MHG_TEST_PG_URL" -qc "UPDATE $SCHEMA.audit_log SET record = replace(record, 'app', 'admin') WHERE seq = 3"
  expect 1 "pg: edited record detected" -- "$BIN" audit verify --store "$PGURL"
  contains "$T/out" "TAMPERED at record 3 (hash_mismatch)" "pg: edit located at record 3"
  psql "$MHG_TEST_PG_URL" -qc "SET client_min_messages=warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE"
else
  echo "skip PostgreSQL part (MHG_TEST_PG_URL not set)"
fi

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all audit/keys CLI checks passed"

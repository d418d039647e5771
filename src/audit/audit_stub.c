/* audit_stub.c - temporary stubs so dependents link; replaced by the real implementation. */
#include <stdlib.h>
#include "mhguard/audit.h"

mhg_status mhg_audit_append(mhg_store *store, const mhg_audit_event *ev, char hash_hex_out[MHG_AUDIT_HASH_HEX]) { (void)store; (void)ev; (void)hash_hex_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_audit_record_decision(mhg_store *store, const mhg_store_decision *d, char hash_hex_out[MHG_AUDIT_HASH_HEX]) { (void)store; (void)d; (void)hash_hex_out; return MHG_ERR_INTERNAL; }
const char * mhg_audit_fault_name(mhg_audit_fault fault) { (void)fault; return ""; }
mhg_status mhg_audit_verify(mhg_store *store, mhg_audit_report *report) { (void)store; (void)report; return MHG_ERR_INTERNAL; }
mhg_status mhg_audit_verify_anchor(mhg_store *store, int64_t anchor_seq, const char *anchor_hash, mhg_audit_report *report) { (void)store; (void)anchor_seq; (void)anchor_hash; (void)report; return MHG_ERR_INTERNAL; }
mhg_status mhg_audit_head(mhg_store *store, int64_t *seq_out, char hash_hex_out[MHG_AUDIT_HASH_HEX]) { (void)store; (void)seq_out; (void)hash_hex_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_audit_export(mhg_store *store, FILE *out, int64_t *count_out) { (void)store; (void)out; (void)count_out; return MHG_ERR_INTERNAL; }

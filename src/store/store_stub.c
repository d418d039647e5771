/* store_stub.c - temporary stubs so dependents link; replaced by the real implementation. */
#include <stdlib.h>
#include "mhguard/store.h"

mhg_status mhg_store_open(const char *url, mhg_store **out, char *err, size_t errlen) { (void)url; (void)out; (void)err; (void)errlen; return MHG_ERR_INTERNAL; }
void mhg_store_close(mhg_store *store) { (void)store;  }
const char * mhg_store_errmsg(const mhg_store *store) { (void)store; return ""; }
const char * mhg_store_backend(const mhg_store *store) { (void)store; return ""; }
mhg_status mhg_store_ping(mhg_store *store) { (void)store; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_schema_version(mhg_store *store, int *version_out) { (void)store; (void)version_out; return MHG_ERR_INTERNAL; }
const char * mhg_store_default_data_dir(void) { return ""; }
int64_t mhg_store_now_ms(void) { return 0; }
mhg_status mhg_store_random_id(const char *prefix, char *out, size_t outlen) { (void)prefix; (void)out; (void)outlen; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_decision_insert(mhg_store *store, const mhg_store_decision *d) { (void)store; (void)d; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_decision_get(mhg_store *store, const char *decision_id, char **json_out) { (void)store; (void)decision_id; (void)json_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_decision_count(mhg_store *store, int64_t *count_out) { (void)store; (void)count_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_review_enqueue(mhg_store *store, const mhg_store_review_item *item, int64_t *id_out) { (void)store; (void)item; (void)id_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_review_list(mhg_store *store, const char *state, size_t limit, char **json_out) { (void)store; (void)state; (void)limit; (void)json_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_review_get(mhg_store *store, int64_t id, char **json_out) { (void)store; (void)id; (void)json_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_review_claim(mhg_store *store, int64_t id, const char *reviewer) { (void)store; (void)id; (void)reviewer; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_review_resolve(mhg_store *store, int64_t id, const char *reviewer, const char *outcome, const char *note) { (void)store; (void)id; (void)reviewer; (void)outcome; (void)note; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_review_count_open(mhg_store *store, int64_t now_ms, int64_t *open_out, int64_t *overdue_out) { (void)store; (void)now_ms; (void)open_out; (void)overdue_out; return MHG_ERR_INTERNAL; }
const char * mhg_role_name(mhg_role role) { (void)role; return ""; }
mhg_status mhg_role_parse(const char *name, mhg_role *out) { (void)name; (void)out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_key_create(mhg_store *store, mhg_role role, const char *label, char key_out[MHG_STORE_KEY_MAX], int64_t *id_out) { (void)store; (void)role; (void)label; (void)key_out; (void)id_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_key_import(mhg_store *store, mhg_role role, const char *label, const char *key, size_t len, int64_t *id_out) { (void)store; (void)role; (void)label; (void)key; (void)len; (void)id_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_key_lookup(mhg_store *store, const char *key, size_t len, mhg_role *role_out, int64_t *id_out) { (void)store; (void)key; (void)len; (void)role_out; (void)id_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_key_revoke(mhg_store *store, int64_t id) { (void)store; (void)id; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_key_list(mhg_store *store, char **json_out) { (void)store; (void)json_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_conv_get(mhg_store *store, const char *conversation, char **json_out, size_t *len_out) { (void)store; (void)conversation; (void)json_out; (void)len_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_conv_put(mhg_store *store, const char *conversation, const char *json, size_t len) { (void)store; (void)conversation; (void)json; (void)len; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_conv_delete(mhg_store *store, const char *conversation) { (void)store; (void)conversation; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_conv_purge(mhg_store *store, int64_t before_ms, int64_t *deleted_out) { (void)store; (void)before_ms; (void)deleted_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_audit_append(mhg_store *store, const mhg_store_decision *decision, mhg_store_audit_build_fn build, void *ctx, int64_t *seq_out) { (void)store; (void)decision; (void)build; (void)ctx; (void)seq_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_audit_iterate(mhg_store *store, int64_t from_seq, mhg_store_audit_row_fn fn, void *ctx) { (void)store; (void)from_seq; (void)fn; (void)ctx; return MHG_ERR_INTERNAL; }
mhg_status mhg_store_audit_head(mhg_store *store, int64_t *seq_out, char hash_out[MHG_STORE_HASH_HEX]) { (void)store; (void)seq_out; (void)hash_out; return MHG_ERR_INTERNAL; }

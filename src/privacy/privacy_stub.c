/* privacy_stub.c - temporary stubs so dependents link; replaced by the real implementation. */
#include <stdlib.h>
#include "mhguard/privacy.h"

mhg_status mhg_privacy_load_or_create_key(const char *path, uint8_t key_out[MHG_PRIVACY_KEY_BYTES], int *created_out, char *err, size_t errlen) { (void)path; (void)key_out; (void)created_out; (void)err; (void)errlen; return MHG_ERR_INTERNAL; }
mhg_status mhg_privacy_new(const uint8_t key[MHG_PRIVACY_KEY_BYTES], mhg_privacy **out) { (void)key; (void)out; return MHG_ERR_INTERNAL; }
void mhg_privacy_free(mhg_privacy *p) { (void)p;  }
mhg_status mhg_privacy_pseudonym(const mhg_privacy *p, const char *domain, const char *raw_id, size_t len, char out_hex[MHG_PRIVACY_PSEUDONYM_HEX]) { (void)p; (void)domain; (void)raw_id; (void)len; (void)out_hex; return MHG_ERR_INTERNAL; }
mhg_status mhg_privacy_redact(const char *text, size_t len, char **out, size_t *out_len, unsigned *found_out) { (void)text; (void)len; (void)out; (void)out_len; (void)found_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_privacy_seal(const mhg_privacy *p, const void *plain, size_t len, char **sealed_out) { (void)p; (void)plain; (void)len; (void)sealed_out; return MHG_ERR_INTERNAL; }
mhg_status mhg_privacy_unseal(const mhg_privacy *p, const char *sealed, size_t len, char **plain_out, size_t *plain_len) { (void)p; (void)sealed; (void)len; (void)plain_out; (void)plain_len; return MHG_ERR_INTERNAL; }

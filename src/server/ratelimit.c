/*
 * ratelimit.c - one token bucket per API key.
 *
 * The table is a fixed array (MHGI_RATE_SLOTS) searched by a hash of the key
 * id: the number of keys is small (apps, reviewers), and a fixed table means
 * a flood of bad keys cannot grow memory. When the table is full the bucket
 * idle the longest is reused, which at worst hands that key a fresh burst.
 * Unauthenticated requests never reach the limiter (401 comes first).
 */
#include <pthread.h>
#include <string.h>

#include "server/server_int.h"

void mhgi_rate_init(mhgi_rate *r, double per_second, double burst) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->per_second = per_second;
    r->burst = burst >= 1 ? burst : 1;
}

void mhgi_rate_destroy(mhgi_rate *r) {
    pthread_mutex_destroy(&r->lock);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1; /* 0 marks an empty slot */
}

int mhgi_rate_take(mhgi_rate *r, const char *key_id, double now, double *retry_after) {
    if (r->per_second <= 0) return 1; /* unlimited */
    uint64_t h = fnv1a(key_id);
    pthread_mutex_lock(&r->lock);
    mhgi_bucket *b = NULL, *oldest = &r->slots[0];
    for (size_t i = 0; i < MHGI_RATE_SLOTS; i++) {
        mhgi_bucket *s = &r->slots[i];
        if (s->key == h) {
            b = s;
            break;
        }
        if (s->key == 0 || s->last < oldest->last) oldest = s;
    }
    if (!b) {
        b = oldest;
        b->key = h;
        b->tokens = r->burst;
        b->last = now;
    }
    double t = b->tokens + (now - b->last) * r->per_second;
    if (t > r->burst) t = r->burst;
    b->last = now;
    int ok = t >= 1.0;
    if (ok) t -= 1.0;
    b->tokens = t;
    if (!ok && retry_after) *retry_after = (1.0 - t) / r->per_second;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

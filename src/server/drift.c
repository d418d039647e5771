/*
 * drift.c - use-drift monitoring (ASL-MH level 1): the share of recent
 * conversations that contained mental-health content.
 *
 * A level-1 deployment ("no clinical relevance") that starts seeing many
 * conversations about distress is drifting into health use and should be
 * reclassified; this window makes that visible as a gauge and raises one
 * alarm line per crossing of the policy's share (drift.alarm_share).
 *
 * The window is the last `cap` distinct conversations (a ring). A
 * conversation counts as mental-health content once any of its messages was
 * screened above `none`. Lookup is a linear scan of the ring: the window is
 * at most a few thousand 64-bit keys, cheaper than maintaining a hash index.
 */
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#define DRIFT_MAX_WINDOW 100000u

mhg_status mhgi_drift_init(mhgi_drift *d, size_t window, double threshold) {
    memset(d, 0, sizeof *d);
    if (window == 0) window = 1000;
    if (window > DRIFT_MAX_WINDOW) window = DRIFT_MAX_WINDOW;
    d->cap = window;
    d->keys = calloc(window, sizeof *d->keys);
    d->mh = calloc(window, 1);
    if (!d->keys || !d->mh) {
        free(d->keys);
        free(d->mh);
        d->keys = NULL;
        d->mh = NULL;
        return MHG_ERR_NOMEM;
    }
    d->threshold = threshold;
    /* a share over a handful of conversations is noise, not drift */
    d->min_window = window < 20 ? window : 20;
    pthread_mutex_init(&d->lock, NULL);
    return MHG_OK;
}

void mhgi_drift_destroy(mhgi_drift *d) {
    if (!d->keys) return;
    pthread_mutex_destroy(&d->lock);
    free(d->keys);
    free(d->mh);
    d->keys = NULL;
    d->mh = NULL;
}

int mhgi_drift_observe(mhgi_drift *d, uint64_t key, int mh, double *share_out,
                       size_t *window_out) {
    if (!d->keys) return 0;
    pthread_mutex_lock(&d->lock);
    size_t found = d->cap;
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i] == key) {
            found = i;
            break;
        }
    if (found < d->cap) {
        if (mh && !d->mh[found]) {
            d->mh[found] = 1;
            d->mh_count++;
        }
    } else {
        size_t slot;
        if (d->n < d->cap) {
            slot = d->n++;
        } else {
            slot = d->head; /* oldest */
            d->head = (d->head + 1) % d->cap;
            if (d->mh[slot]) d->mh_count--;
        }
        d->keys[slot] = key;
        d->mh[slot] = mh ? 1 : 0;
        if (mh) d->mh_count++;
    }
    double share = d->n ? (double)d->mh_count / (double)d->n : 0.0;
    int raised = 0;
    if (d->threshold > 0 && d->n >= d->min_window) {
        if (share > d->threshold && !d->alarm) {
            d->alarm = 1;
            raised = 1;
        } else if (share <= d->threshold && d->alarm) {
            d->alarm = 0;
        }
    }
    if (share_out) *share_out = share;
    if (window_out) *window_out = d->n;
    pthread_mutex_unlock(&d->lock);
    return raised;
}

void mhgi_drift_get(mhgi_drift *d, double *share, size_t *window, int *alarm) {
    if (!d->keys) {
        *share = 0;
        *window = 0;
        *alarm = 0;
        return;
    }
    pthread_mutex_lock(&d->lock);
    *share = d->n ? (double)d->mh_count / (double)d->n : 0.0;
    *window = d->n;
    *alarm = d->alarm;
    pthread_mutex_unlock(&d->lock);
}

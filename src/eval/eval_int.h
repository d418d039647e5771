/*
 * eval_int.h - internals of the eval module (never installed).
 */
#ifndef MHG_EVAL_INT_H
#define MHG_EVAL_INT_H

#include "mhguard/eval.h"

#define MHGI_EVAL_MAX_DIM 8u      /* systems, tasks, group fields */
#define MHGI_EVAL_CURVE_POINTS 200u

typedef struct mhgi_eval_item {
    double score;
    int8_t label;
    uint8_t pred;
    uint16_t group[MHGI_EVAL_MAX_DIM];
} mhgi_eval_item;

typedef struct mhgi_curve {
    double *x, *y; /* ROC: fpr, tpr; PR: recall, precision */
    size_t n;
} mhgi_curve;

typedef struct mhgi_eval_cell {
    mhgi_eval_item *items;
    size_t n, cap;
    mhg_eval_summary overall;
    mhg_eval_summary *by_group[MHGI_EVAL_MAX_DIM]; /* per field: one per value */
    mhgi_curve roc, pr;
    mhgi_curve *group_roc[MHGI_EVAL_MAX_DIM]; /* per field: one per value */
} mhgi_eval_cell;

typedef struct mhgi_kv {
    int system;
    char *key, *value;
} mhgi_kv;

struct mhg_eval_set {
    size_t n_systems, n_tasks, n_fields;
    char *systems[MHGI_EVAL_MAX_DIM];
    char *tasks[MHGI_EVAL_MAX_DIM];
    char *fields[MHGI_EVAL_MAX_DIM];
    char **values[MHGI_EVAL_MAX_DIM]; /* interned group values per field */
    size_t n_values[MHGI_EVAL_MAX_DIM], cap_values[MHGI_EVAL_MAX_DIM];
    mhgi_eval_cell cells[MHGI_EVAL_MAX_DIM][MHGI_EVAL_MAX_DIM]; /* [system][task] */
    mhgi_kv *info;
    size_t n_info, cap_info;
    int computed;
};

#endif

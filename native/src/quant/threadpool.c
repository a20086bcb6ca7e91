/* A small pthread pool: n-1 workers plus the calling thread share each job's tasks through an
 * atomic counter (so a core busy with other work just takes fewer tasks). One job at a time. */
#include <pthread.h>
#include <stdatomic.h>

#include "quant_internal.h"

#define MAX_THREADS 64

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake = PTHREAD_COND_INITIALIZER, g_done = PTHREAD_COND_INITIALIZER;
/* Serializes jobs (and set_threads) when several JS threads call in at once. */
static pthread_mutex_t g_run_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t g_workers[MAX_THREADS];
static int g_nworkers = 0, g_stop = 0, g_pending = 0;
static uint64_t g_generation = 0;
static llmem_task_fn g_fn;
static void *g_ctx;
static size_t g_tasks;
static atomic_size_t g_next;

static void run_tasks(llmem_task_fn fn, void *ctx, size_t tasks) {
  for (size_t t; (t = atomic_fetch_add_explicit(&g_next, 1, memory_order_relaxed)) < tasks;) fn(ctx, t);
}

/* A worker starts from the generation current when it was created: starting from 0 would make a
 * worker created after earlier jobs replay the last one's stale fn/ctx (a dangling stack pointer)
 * while claiming task numbers from the next job's counter, leaving those tasks undone. */
static uint64_t g_created_at;

static void *worker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_mu);
  uint64_t seen = g_created_at;
  for (;;) {
    while (g_generation == seen && !g_stop) pthread_cond_wait(&g_wake, &g_mu);
    if (g_stop) break;
    seen = g_generation;
    llmem_task_fn fn = g_fn;
    void *ctx = g_ctx;
    const size_t tasks = g_tasks;
    pthread_mutex_unlock(&g_mu);
    run_tasks(fn, ctx, tasks);
    pthread_mutex_lock(&g_mu);
    if (--g_pending == 0) pthread_cond_signal(&g_done);
  }
  pthread_mutex_unlock(&g_mu);
  return NULL;
}

static void stop_workers(void) {
  pthread_mutex_lock(&g_mu);
  g_stop = 1;
  pthread_cond_broadcast(&g_wake);
  pthread_mutex_unlock(&g_mu);
  for (int i = 0; i < g_nworkers; i++) pthread_join(g_workers[i], NULL);
  g_nworkers = 0;
  g_stop = 0;
}

int llmem_set_threads(int n) {
  if (n < 1 || n > MAX_THREADS) return -1;
  pthread_mutex_lock(&g_run_mu);
  stop_workers();
  int rc = 0;
  pthread_mutex_lock(&g_mu);
  g_created_at = g_generation; /* no job runs while g_run_mu is held, so this is stable */
  pthread_mutex_unlock(&g_mu);
  for (int i = 0; i < n - 1; i++) {
    if (pthread_create(&g_workers[i], NULL, worker_main, NULL) != 0) {
      rc = -1;
      break;
    }
    g_nworkers++;
  }
  if (rc != 0) stop_workers(); /* all or nothing: back to the calling thread alone */
  pthread_mutex_unlock(&g_run_mu);
  return rc;
}

int llmem_get_threads(void) { return g_nworkers + 1; }

void llmem_pool_run(llmem_task_fn fn, void *ctx, size_t tasks) {
  pthread_mutex_lock(&g_run_mu);
  if (g_nworkers == 0 || tasks <= 1) {
    for (size_t t = 0; t < tasks; t++) fn(ctx, t);
    pthread_mutex_unlock(&g_run_mu);
    return;
  }
  pthread_mutex_lock(&g_mu);
  g_fn = fn;
  g_ctx = ctx;
  g_tasks = tasks;
  atomic_store_explicit(&g_next, 0, memory_order_relaxed);
  g_pending = g_nworkers;
  g_generation++;
  pthread_cond_broadcast(&g_wake);
  pthread_mutex_unlock(&g_mu);
  run_tasks(fn, ctx, tasks);
  pthread_mutex_lock(&g_mu);
  while (g_pending > 0) pthread_cond_wait(&g_done, &g_mu);
  pthread_mutex_unlock(&g_mu);
  pthread_mutex_unlock(&g_run_mu);
}

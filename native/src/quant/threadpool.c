/* A small pthread pool: n-1 workers plus the calling thread share each job's tasks (so a core
 * busy with other work just takes fewer tasks). One job at a time.
 *
 * A decode step runs ~50 small jobs of 10-300 µs each, so the hand-off itself must cost far
 * less than a condition-variable round trip (~3 µs to wake, plus waiting for every worker):
 *  - idle workers spin on the job word for a while before sleeping on a condition variable;
 *  - the caller waits only for tasks that were claimed, never for a worker that claimed none
 *    (one descheduled by other load, or still asleep, simply misses the job).
 * The job word packs generation | task count | next task into one 64-bit atomic, and a task is
 * claimed by compare-and-swap on it: a worker that read a job's fn/ctx and then lost the race to
 * a newer job fails its CAS (the generation moved) and never calls stale fn/ctx. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "quant_internal.h"

#define MAX_THREADS 64
/* Task counts above this run on the calling thread (matvec uses at most 4 tasks per thread). */
#define MAX_POOL_TASKS 0xFFFFu
/* How long an idle worker spins before it sleeps: longer than the gap between the matvecs of one
 * token, shorter than sampling between tokens. While spinning it yields the core every few µs:
 * when other load leaves this process one core, a worker spinning through its time slice would
 * halve the calling thread's speed (measured: ×0.6 of one thread without the yield). */
#define SPIN_NS 50000
#define PAUSES_PER_YIELD 256

#if LLMEM_X86
#define cpu_relax() _mm_pause()
#elif LLMEM_ARM
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake = PTHREAD_COND_INITIALIZER;
/* Serializes jobs (and set_threads) when several JS threads call in at once. */
static pthread_mutex_t g_run_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t g_workers[MAX_THREADS];
static int g_nworkers = 0;
static atomic_int g_stop, g_sleepers;
/* gen (bits 32-63) | tasks (16-31) | next unclaimed task (0-15). */
static _Atomic uint64_t g_job;
static _Atomic(llmem_task_fn) g_fn;
static _Atomic(void *) g_ctx;
static atomic_size_t g_done; /* tasks of the current job finished */

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline uint32_t job_gen(uint64_t w) { return (uint32_t)(w >> 32); }

/* Claims and runs the job's tasks while the job word still carries generation gen. */
static void run_claimed(uint32_t gen, llmem_task_fn fn, void *ctx) {
  uint64_t w = atomic_load_explicit(&g_job, memory_order_acquire);
  for (;;) {
    const uint32_t tasks = (uint32_t)(w >> 16) & 0xFFFF, next = (uint32_t)w & 0xFFFF;
    if (job_gen(w) != gen || next >= tasks) return;
    if (!atomic_compare_exchange_weak_explicit(&g_job, &w, w + 1, memory_order_acq_rel, memory_order_acquire))
      continue;
    fn(ctx, next);
    atomic_fetch_add_explicit(&g_done, 1, memory_order_release);
    w = atomic_load_explicit(&g_job, memory_order_acquire);
  }
}

static void *worker_main(void *arg) {
  uint32_t seen = (uint32_t)(uintptr_t)arg;
  for (;;) {
    uint64_t w = atomic_load_explicit(&g_job, memory_order_acquire);
    const uint64_t spin_end = now_ns() + SPIN_NS;
    for (unsigned i = 1; job_gen(w) == seen && !atomic_load_explicit(&g_stop, memory_order_relaxed); i++) {
      cpu_relax();
      if (i % PAUSES_PER_YIELD == 0) {
        if (now_ns() > spin_end) break;
        sched_yield();
      }
      w = atomic_load_explicit(&g_job, memory_order_acquire);
    }
    if (job_gen(w) == seen && !atomic_load(&g_stop)) {
      /* Sleep. g_sleepers is raised before the job word is read again (both seq_cst), so a
       * caller that publishes after this read sees a sleeper and broadcasts under g_mu. */
      pthread_mutex_lock(&g_mu);
      atomic_fetch_add(&g_sleepers, 1);
      while (job_gen(atomic_load(&g_job)) == seen && !atomic_load(&g_stop)) pthread_cond_wait(&g_wake, &g_mu);
      atomic_fetch_sub(&g_sleepers, 1);
      pthread_mutex_unlock(&g_mu);
      continue;
    }
    if (atomic_load(&g_stop)) break;
    seen = job_gen(w);
    /* fn/ctx may already belong to a newer job; run_claimed's CAS on generation `seen` then fails. */
    run_claimed(seen, atomic_load_explicit(&g_fn, memory_order_acquire),
                atomic_load_explicit(&g_ctx, memory_order_acquire));
  }
  return NULL;
}

static void stop_workers(void) {
  atomic_store(&g_stop, 1);
  pthread_mutex_lock(&g_mu);
  pthread_cond_broadcast(&g_wake);
  pthread_mutex_unlock(&g_mu);
  for (int i = 0; i < g_nworkers; i++) pthread_join(g_workers[i], NULL);
  g_nworkers = 0;
  atomic_store(&g_stop, 0);
}

int llmem_set_threads(int n) {
  if (n < 1 || n > MAX_THREADS) return -1;
  pthread_mutex_lock(&g_run_mu);
  stop_workers();
  int rc = 0;
  /* A worker starts from the current generation (no job runs while g_run_mu is held), so it
   * never mistakes the last finished job for a new one. */
  const uint32_t gen = job_gen(atomic_load(&g_job));
  for (int i = 0; i < n - 1; i++) {
    if (pthread_create(&g_workers[i], NULL, worker_main, (void *)(uintptr_t)gen) != 0) {
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
  if (g_nworkers == 0 || tasks <= 1 || tasks > MAX_POOL_TASKS) {
    for (size_t t = 0; t < tasks; t++) fn(ctx, t);
    pthread_mutex_unlock(&g_run_mu);
    return;
  }
  atomic_store_explicit(&g_done, 0, memory_order_relaxed);
  atomic_store_explicit(&g_fn, fn, memory_order_relaxed);
  atomic_store_explicit(&g_ctx, ctx, memory_order_relaxed);
  const uint32_t gen = job_gen(atomic_load_explicit(&g_job, memory_order_relaxed)) + 1;
  atomic_store(&g_job, (uint64_t)gen << 32 | (uint64_t)tasks << 16); /* seq_cst: publishes the fields above */
  if (atomic_load(&g_sleepers) > 0) {
    pthread_mutex_lock(&g_mu);
    pthread_cond_broadcast(&g_wake);
    pthread_mutex_unlock(&g_mu);
  }
  run_claimed(gen, fn, ctx);
  /* Every task is claimed now; wait for the ones other threads are still running. */
  for (unsigned spins = 0; atomic_load_explicit(&g_done, memory_order_acquire) < tasks; spins++) {
    if (spins < 4096) cpu_relax();
    else sched_yield(); /* the claimant was descheduled: give it the core */
  }
  pthread_mutex_unlock(&g_run_mu);
}

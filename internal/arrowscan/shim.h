// The Arrow C stream interface (ABI-stable, https://arrow.apache.org/docs/format/CStreamInterface.html),
// guarded as the specification asks so that other definitions of it coexist.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
struct ArrowSchema {
	const char *format;
	const char *name;
	const char *metadata;
	int64_t flags;
	int64_t n_children;
	struct ArrowSchema **children;
	struct ArrowSchema *dictionary;
	void (*release)(struct ArrowSchema *);
	void *private_data;
};

struct ArrowArray {
	int64_t length;
	int64_t null_count;
	int64_t offset;
	int64_t n_buffers;
	int64_t n_children;
	const void **buffers;
	struct ArrowArray **children;
	struct ArrowArray *dictionary;
	void (*release)(struct ArrowArray *);
	void *private_data;
};
#endif

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
	int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
	int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
	const char *(*get_last_error)(struct ArrowArrayStream *);
	void (*release)(struct ArrowArrayStream *);
	void *private_data;
};
#endif

// keeper wraps a producer's stream. Every schema it hands out stays its own: the consumer gets
// a copy whose release only marks it released, and the keeper releases the originals with the
// stream (DuckDB's duckdb_arrow_scan and its arrow_scan bind never release the schemas they
// ask for).
struct keeper {
	struct ArrowArrayStream inner;
	struct ArrowSchema **schemas;
	int n, cap;
	pthread_mutex_t mu;
};

static void keeper_schema_copy_release(struct ArrowSchema *s) { s->release = NULL; }

static int keeper_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out) {
	struct keeper *k = (struct keeper *)s->private_data;
	struct ArrowSchema *kept = (struct ArrowSchema *)calloc(1, sizeof(struct ArrowSchema));
	if (kept == NULL) {
		return ENOMEM;
	}
	pthread_mutex_lock(&k->mu);
	if (k->n == k->cap) {
		int cap = k->cap ? 2 * k->cap : 4;
		struct ArrowSchema **grown = (struct ArrowSchema **)realloc(k->schemas, cap * sizeof(*grown));
		if (grown == NULL) {
			pthread_mutex_unlock(&k->mu);
			free(kept);
			return ENOMEM;
		}
		k->schemas = grown;
		k->cap = cap;
	}
	int rc = k->inner.get_schema(&k->inner, kept);
	if (rc != 0) {
		pthread_mutex_unlock(&k->mu);
		free(kept);
		return rc;
	}
	k->schemas[k->n++] = kept;
	pthread_mutex_unlock(&k->mu);
	*out = *kept;
	out->release = keeper_schema_copy_release;
	return 0;
}

static int keeper_get_next(struct ArrowArrayStream *s, struct ArrowArray *out) {
	struct keeper *k = (struct keeper *)s->private_data;
	return k->inner.get_next(&k->inner, out);
}

static const char *keeper_get_last_error(struct ArrowArrayStream *s) {
	struct keeper *k = (struct keeper *)s->private_data;
	return k->inner.get_last_error(&k->inner);
}

// keeper_release releases the schemas handed out, then the producer's stream. A child the
// consumer released itself is skipped by its parent's release (it is marked released).
static void keeper_release(struct ArrowArrayStream *s) {
	struct keeper *k = (struct keeper *)s->private_data;
	if (k == NULL) {
		return;
	}
	for (int i = 0; i < k->n; i++) {
		if (k->schemas[i]->release != NULL) {
			k->schemas[i]->release(k->schemas[i]);
		}
		free(k->schemas[i]);
	}
	free(k->schemas);
	if (k->inner.release != NULL) {
		k->inner.release(&k->inner);
	}
	pthread_mutex_destroy(&k->mu);
	free(k);
	s->private_data = NULL;
	s->release = NULL;
}

// keeper_new returns a stream wrapping a zeroed inner stream the caller then fills (the
// producer exports into keeper_inner(out)), or NULL when out of memory.
static struct ArrowArrayStream *keeper_new(void) {
	struct ArrowArrayStream *out = (struct ArrowArrayStream *)calloc(1, sizeof(struct ArrowArrayStream));
	struct keeper *k = (struct keeper *)calloc(1, sizeof(struct keeper));
	if (out == NULL || k == NULL) {
		free(out);
		free(k);
		return NULL;
	}
	pthread_mutex_init(&k->mu, NULL);
	out->get_schema = keeper_get_schema;
	out->get_next = keeper_get_next;
	out->get_last_error = keeper_get_last_error;
	out->release = keeper_release;
	out->private_data = k;
	return out;
}

static struct ArrowArrayStream *keeper_inner(struct ArrowArrayStream *s) {
	return &((struct keeper *)s->private_data)->inner;
}

// keeper_free releases s and frees the struct itself.
static void keeper_free(struct ArrowArrayStream *s) {
	if (s->release != NULL) {
		s->release(s);
	}
	free(s);
}


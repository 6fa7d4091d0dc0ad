#include "swapcrypt.h"

#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SLOTS 1024u

struct swapcrypt {
	unsigned char *key;                          /* sodium_malloc: guarded, locked, read-only */
	uint64_t next_ctr;                           /* the writer's alone */
	uint32_t nchunks;
	_Atomic(struct swapcrypt_seal *) *chunk;     /* CHUNK_SLOTS seals each, made on first use */
};

_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == 16, "tag size");

const char *swapcrypt_cipher(void)
{
	return "XChaCha20-Poly1305";
}

struct swapcrypt *swapcrypt_new(uint32_t max_slots, char *err, size_t errlen)
{
	struct swapcrypt *sc;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start (sodium_init)");
		return NULL;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sc->nchunks = (uint32_t)(((uint64_t)max_slots + CHUNK_SLOTS - 1) / CHUNK_SLOTS);
	sc->chunk = calloc(sc->nchunks ? sc->nchunks : 1, sizeof(*sc->chunk));
	sc->key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (!sc->chunk || !sc->key) {
		snprintf(err, errlen, "out of memory for the swap key");
		swapcrypt_free(sc);
		return NULL;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(sc->key);
	sodium_mprotect_readonly(sc->key);
	sc->next_ctr = 1;   /* 0 marks a slot never sealed */
	return sc;
}

void swapcrypt_free(struct swapcrypt *sc)
{
	if (!sc)
		return;
	if (sc->key)
		sodium_free(sc->key);   /* zeroes it first */
	for (uint32_t i = 0; sc->chunk && i < sc->nchunks; i++)
		free(atomic_load_explicit(&sc->chunk[i], memory_order_relaxed));
	free(sc->chunk);
	free(sc);
}

static void nonce_of(uint64_t ctr, unsigned char n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)(ctr >> (8 * i));
}

static void ad_of(uint32_t slot, unsigned char ad[4])
{
	for (int i = 0; i < 4; i++)
		ad[i] = (unsigned char)(slot >> (8 * i));
}

void swapcrypt_seal(struct swapcrypt *sc, uint32_t slot, const void *plain, void *out,
		    struct swapcrypt_seal *seal)
{
	unsigned char n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], ad[4];

	/* A nonce is never used twice under one key: 2^64 writes do not happen. */
	seal->nonce_ctr = sc->next_ctr++;
	nonce_of(seal->nonce_ctr, n);
	ad_of(slot, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, seal->tag, NULL, plain, SWAPCRYPT_PAGE,
							    ad, sizeof(ad), NULL, n, sc->key);
}

int swapcrypt_commit(struct swapcrypt *sc, uint32_t slot, const struct swapcrypt_seal *seal)
{
	uint32_t c = slot / CHUNK_SLOTS;
	struct swapcrypt_seal *t;

	if (c >= sc->nchunks)
		return -EINVAL;
	t = atomic_load_explicit(&sc->chunk[c], memory_order_acquire);
	if (!t) {
		t = calloc(CHUNK_SLOTS, sizeof(*t));
		if (!t)
			return -ENOMEM;
		/* Published whole: a reader of another slot sees NULL or a zeroed table. */
		atomic_store_explicit(&sc->chunk[c], t, memory_order_release);
	}
	t[slot % CHUNK_SLOTS] = *seal;
	return 0;
}

int swapcrypt_open(struct swapcrypt *sc, uint32_t slot, unsigned count, void *buf)
{
	unsigned char n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], ad[4];
	int bad = 0;

	for (unsigned i = 0; i < count; i++) {
		uint32_t s = slot + i;
		unsigned char *pg = (unsigned char *)buf + (size_t)i * SWAPCRYPT_PAGE;
		struct swapcrypt_seal *t = s / CHUNK_SLOTS < sc->nchunks
			? atomic_load_explicit(&sc->chunk[s / CHUNK_SLOTS], memory_order_acquire) : NULL;
		const struct swapcrypt_seal *seal = t ? &t[s % CHUNK_SLOTS] : NULL;

		if (seal && seal->nonce_ctr) {
			nonce_of(seal->nonce_ctr, n);
			ad_of(s, ad);
			if (!crypto_aead_xchacha20poly1305_ietf_decrypt_detached(pg, NULL, pg, SWAPCRYPT_PAGE,
										 seal->tag, ad, sizeof(ad), n,
										 sc->key))
				continue;
		}
		memset(pg, 0, SWAPCRYPT_PAGE);
		bad = 1;
	}
	return bad ? -EBADMSG : 0;
}

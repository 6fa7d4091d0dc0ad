/*
 * Swap-file pages encrypted at rest: XChaCha20-Poly1305 (libsodium's
 * AEAD) with a key drawn at random when the swap file is made and never
 * written anywhere, so what a crashed or stolen disk keeps of a guest's
 * memory is noise.  Each write of a slot takes a fresh nonce from a
 * counter and binds the slot number in as associated data; the 16-byte
 * tag and the counter stay in memory (24 bytes a slot, allocated as slots
 * are first used).  A page that comes back changed, torn, or from another
 * slot fails to open: it is never handed to the guest.
 */
#ifndef MEMVISOR_MM_SWAPCRYPT_H
#define MEMVISOR_MM_SWAPCRYPT_H

#include <stdint.h>
#include <stddef.h>

#define SWAPCRYPT_PAGE 4096u

struct swapcrypt;

/* What one sealed write needs to be opened again: kept once the write lands. */
struct swapcrypt_seal {
	uint64_t nonce_ctr;
	uint8_t tag[16];
};

/* A new random key for up to max_slots slots; NULL with the reason in err. */
struct swapcrypt *swapcrypt_new(uint32_t max_slots, char *err, size_t errlen);

/* Wipe the key and forget every slot. */
void swapcrypt_free(struct swapcrypt *sc);

/* Encrypt one page for `slot` into out (plain is left as it is). */
void swapcrypt_seal(struct swapcrypt *sc, uint32_t slot, const void *plain, void *out,
		    struct swapcrypt_seal *seal);

/*
 * The write of `slot` landed: from now on it opens with this seal.  One
 * writer at a time (the swap file's write ring is serialised already);
 * readers of other slots may run meanwhile.  -ENOMEM if the slot's table
 * could not be allocated (the caller treats the write as failed).
 */
int swapcrypt_commit(struct swapcrypt *sc, uint32_t slot, const struct swapcrypt_seal *seal);

/*
 * Decrypt `count` pages read from slots slot.. in place; -EBADMSG if any
 * fails to authenticate (its page is then zeroed, never left as it came).
 */
int swapcrypt_open(struct swapcrypt *sc, uint32_t slot, unsigned count, void *buf);

/* The cipher's name, for logs. */
const char *swapcrypt_cipher(void);

#endif

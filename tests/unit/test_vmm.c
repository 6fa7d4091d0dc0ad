/*
 * Unit tests for the pure parts of the VMM: size parsing, the `run`
 * command line, the ELF loader (including hostile files) and the boot
 * layout the guest relies on.
 */
#include "../../vmm/boot_layout.h"
#include "../../vmm/config.h"
#include "../../vmm/elf_loader.h"
#include "../../vmm/json.h"
#include "../../vmm/ram_map.h"
#include "../../vmm/size.h"
#include "../../mm/fault_poll.h"
#include "../../mm/share_scan.h"
#include "../../guest/abi.h"

#include <check.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

/* ---- sizes ------------------------------------------------------------- */

START_TEST(size_accepts_suffixes)
{
	static const struct { const char *text; uint64_t bytes; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "1K", 1024 }, { "64m", 64ULL << 20 },
		{ "2G", 2ULL << 30 }, { "1T", 1ULL << 40 }, { "3MiB", 3ULL << 20 },
		{ "5KB", 5 << 10 }, { "7b", 7 }, { "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ULL << 40 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		ck_assert_msg(size_parse(ok[i].text, &v, err, sizeof(err)) == 0, "%s: %s", ok[i].text, err);
		ck_assert_uint_eq(v, ok[i].bytes);
	}
}
END_TEST

START_TEST(size_rejects_garbage)
{
	static const char *const bad[] = {
		"", "M", "-1", "+5", " 5", "5 ", "1.5G", "12Q", "4MM", "0x10", "1Gi",
		"18446744073709551616", "16777216T", "99999999999999999999G", "abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		err[0] = 0;
		ck_assert_msg(size_parse(bad[i], &v, err, sizeof(err)) == -1, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 42);
		ck_assert_msg(strlen(err) > 0, "no message for '%s'", bad[i]);
	}
	ck_assert_int_eq(size_parse(NULL, NULL, err, sizeof(err)), -1);
}
END_TEST

START_TEST(size_format_round_trips)
{
	static const uint64_t values[] = { 0, 1, 4095, 4096, 3ULL << 20, (2ULL << 30) + 4096, 5ULL << 40 };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[32];
		uint64_t back = 0;
		size_format(values[i], buf, sizeof(buf));
		ck_assert_int_eq(size_parse(buf, &back, err, sizeof(err)), 0);
		ck_assert_uint_eq(back, values[i]);
	}
}
END_TEST

/* ---- command line -------------------------------------------------------- */

static int parse(struct host_config *cfg, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	return config_parse_run(argc, argv, cfg, err, sizeof(err));
}

START_TEST(config_multi_vm)
{
	struct host_config cfg;
	const char *args[] = {
		"--host-mem", "1G", "--stats=/tmp/s.jsonl",
		"--vm", "name=a,mem=256M", "--append", "workload=hello",
		"--vm", "name=b.2,mem=1G,kernel=/k.elf,vcpus=4",
		NULL,
	};
	ck_assert_msg(parse(&cfg, args) == 0, "%s", err);
	ck_assert_uint_eq(cfg.host_mem, 1ULL << 30);
	ck_assert_str_eq(cfg.stats_path, "/tmp/s.jsonl");
	ck_assert_uint_eq(cfg.nvms, 2);
	ck_assert_str_eq(cfg.vms[0].name, "a");
	ck_assert_uint_eq(cfg.vms[0].mem, 256ULL << 20);
	ck_assert_str_eq(cfg.vms[0].append, "workload=hello");
	ck_assert_ptr_null(cfg.vms[0].kernel);
	ck_assert_uint_eq(cfg.vms[0].vcpus, 1);
	ck_assert_str_eq(cfg.vms[1].name, "b.2");
	ck_assert_str_eq(cfg.vms[1].kernel, "/k.elf");
	ck_assert_uint_eq(cfg.vms[1].vcpus, 4);
	ck_assert_ptr_null(cfg.vms[1].append);
	config_free(&cfg);
}
END_TEST

START_TEST(config_single_vm_shorthand)
{
	struct host_config cfg;
	const char *args[] = { "--append", "workload=touch size=1M", "--mem", "64M",
			       "--kernel", "g.elf", NULL };
	ck_assert_msg(parse(&cfg, args) == 0, "%s", err);
	ck_assert_uint_eq(cfg.nvms, 1);
	ck_assert_str_eq(cfg.vms[0].name, "vm0");
	ck_assert_uint_eq(cfg.vms[0].mem, 64ULL << 20);
	ck_assert_str_eq(cfg.vms[0].kernel, "g.elf");
	ck_assert_str_eq(cfg.vms[0].append, "workload=touch size=1M");
	config_free(&cfg);
}
END_TEST

static const struct {
	const char *args[8];
	const char *message;     /* a part of the expected error */
} bad_cmdlines[] = {
	{ { NULL }, "no VM given" },
	{ { "--vm", "name=a", NULL }, "mem= is required" },
	{ { "--vm", "mem=1G", NULL }, "name= is required" },
	{ { "--vm", "name=a,mem=1G", "--vm", "name=a,mem=2G", NULL }, "two VMs are named 'a'" },
	{ { "--vm", "name=a,mem=1X", NULL }, "bad size '1X'" },
	{ { "--vm", "name=a,mem=1G,color=red", NULL }, "unknown key 'color'" },
	{ { "--vm", "name=a,mem=1G,mem=2G", NULL }, "given twice" },
	{ { "--vm", "name=a b,mem=1G", NULL }, "bad name" },
	{ { "--vm", "name=,mem=1G", NULL }, "empty value" },
	{ { "--vm", "name=a,mem=1G,vcpus=0", NULL }, "bad vcpus" },
	{ { "--vm", "name=a,mem=1G,vcpus=65", NULL }, "bad vcpus" },
	{ { "--vm", "name=a,mem=1G,vcpus=-1", NULL }, "bad vcpus" },
	{ { "--vm", "name=a,mem=1G,oops", NULL }, "not key=value" },
	{ { "--vm", "", NULL }, "empty specification" },
	{ { "--vm", NULL }, "--vm needs a value" },
	{ { "--append", "x", "--vm", "name=a,mem=1G", NULL }, "must follow the --vm" },
	{ { "--vm", "name=a,mem=1G", "--append", "x", "--append", "y", NULL }, "given twice" },
	{ { "--mem", "1G", "--vm", "name=a,mem=1G", NULL }, "cannot be mixed" },
	{ { "--vm", "name=a,mem=1G", "--mem", "1G", NULL }, "cannot be mixed" },
	{ { "--kernel", "k", NULL }, "--mem SIZE is required" },
	{ { "--mem", "-5M", NULL }, "bad size" },
	{ { "--host-mem", "0", "--mem", "1G", NULL }, "more than 0" },
	{ { "--mem", "1G", "--frobnicate", NULL }, "unknown option '--frobnicate'" },
	{ { "--mem", "1G", "stray", NULL }, "unexpected argument 'stray'" },
	{ { "--stats", "", "--mem", "1G", NULL }, "empty file name" },
	{ { "--vm", "name=abcdefghijabcdefghijabcdefghijxx,mem=1G", NULL }, "bad name" },
	{ { "--prefetch", "0", "--mem", "1G", NULL }, "from 1 to 256" },
	{ { "--prefetch", "257", "--mem", "1G", NULL }, "from 1 to 256" },
	{ { "--prefetch", "8x", "--mem", "1G", NULL }, "from 1 to 256" },
	{ { "--swap-backend", "disk", "--mem", "1G", NULL }, "not file or kernel" },
	{ { "--fault-poll-us", "10001", "--mem", "1G", NULL }, "from 0 to 10000" },
	{ { "--fault-poll-us", "-1", "--mem", "1G", NULL }, "from 0 to 10000" },
	{ { "--fault-poll-us", "5ms", "--mem", "1G", NULL }, "from 0 to 10000" },
	{ { "--fault-poll-us", NULL }, "--fault-poll-us needs a value" },
};

START_TEST(config_swap_options)
{
	struct host_config cfg;
	const char *args[] = { "--prefetch", "256", "--swap-backend", "kernel", "--fault-poll-us", "0", "--mem", "64M", NULL };
	const char *dflt[] = { "--mem", "64M", NULL };

	ck_assert_msg(parse(&cfg, args) == 0, "%s", err);
	ck_assert_uint_eq(cfg.prefetch, 256);
	ck_assert_uint_eq(cfg.fault_poll_us, 0);
	ck_assert_int_eq(cfg.kernel_swap, 1);
	config_free(&cfg);
	ck_assert_msg(parse(&cfg, dflt) == 0, "%s", err);
	ck_assert_uint_eq(cfg.prefetch, 0); /* the memory manager's default */
	ck_assert_uint_eq(cfg.fault_poll_us, FAULT_POLL_DEFAULT_US);
	ck_assert_int_eq(cfg.kernel_swap, 0);
	config_free(&cfg);
}
END_TEST

/* A Linux guest's RAM: [0, 3G) and [4G, ...) from one buffer; the test guest's is flat. */
START_TEST(ram_map_skips_the_hole)
{
	struct ram_map m;
	uint64_t off = 0;

	ram_map_init(&m, 5ULL << 30, 1);
	ck_assert_uint_eq(m.low, 3ULL << 30);
	ck_assert_uint_eq(m.high, 2ULL << 30);
	ck_assert_uint_eq(ram_map_end(&m), 6ULL << 30);
	ck_assert_int_eq(ram_map_offset(&m, 0x1000, 4096, &off), 0);
	ck_assert_uint_eq(off, 0x1000);
	ck_assert_int_eq(ram_map_offset(&m, 4ULL << 30, 4096, &off), 0);
	ck_assert_uint_eq(off, 3ULL << 30);
	ck_assert_int_eq(ram_map_offset(&m, (6ULL << 30) - 4096, 4096, &off), 0);
	ck_assert_uint_eq(off, (5ULL << 30) - 4096);
	/* The hole, its edges, past the end, wrap-around and empty ranges are not RAM. */
	ck_assert_int_eq(ram_map_offset(&m, 3ULL << 30, 4096, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, 0xfee00000, 4, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, (3ULL << 30) - 8, 16, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, (4ULL << 30) - 8, 16, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, (6ULL << 30) - 8, 16, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, 6ULL << 30, 1, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, 0x1000, UINT64_MAX, &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, 4ULL << 30, UINT64_MAX - (1ULL << 30), &off), -1);
	ck_assert_int_eq(ram_map_offset(&m, 0x1000, 0, &off), -1);
	/* Up to 3 GiB, split or not, it is flat; the test guest's always is. */
	ram_map_init(&m, 3ULL << 30, 1);
	ck_assert_uint_eq(m.high, 0);
	ck_assert_int_eq(ram_map_offset(&m, 4ULL << 30, 4096, &off), -1);
	ram_map_init(&m, 5ULL << 30, 0);
	ck_assert_uint_eq(m.low, 5ULL << 30);
	ck_assert_int_eq(ram_map_offset(&m, (3ULL << 30) + 4096, 4096, &off), 0);
	ck_assert_uint_eq(off, (3ULL << 30) + 4096);
}
END_TEST

START_TEST(config_share_options)
{
	struct host_config cfg;
	const char *args[] = { "--share-rate", "50000", "--share-cpu", "25", "--mem", "64M", NULL };
	const char *dflt[] = { "--mem", "64M", NULL };
	const char *zero[] = { "--share-cpu", "0", "--mem", "64M", NULL };
	const char *over[] = { "--share-cpu", "101", "--mem", "64M", NULL };

	ck_assert_msg(parse(&cfg, args) == 0, "%s", err);
	ck_assert_uint_eq(cfg.share_rate, 50000);
	ck_assert_uint_eq(cfg.share_cpu_pct, 25);
	config_free(&cfg);
	ck_assert_msg(parse(&cfg, dflt) == 0, "%s", err);
	ck_assert_uint_eq(cfg.share_rate, SHARE_DEFAULT_RATE);
	ck_assert_uint_eq(cfg.share_cpu_pct, SHARE_DEFAULT_CPU_PCT);
	config_free(&cfg);
	ck_assert_int_ne(parse(&cfg, zero), 0);
	ck_assert_ptr_nonnull(strstr(err, "--share-cpu"));
	config_free(&cfg);
	ck_assert_int_ne(parse(&cfg, over), 0);
	config_free(&cfg);
}
END_TEST

START_TEST(config_balloon_options)
{
	struct host_config cfg;
	const char *args[] = { "--balloon-stats", "0.25", "--vm", "name=a,mem=64M,balloon=16M,balloon_at=2.5:0",
			       "--vm", "name=b,mem=64M,balloon_at=1:8M", "--vm", "name=c,mem=64M", NULL };
	const char *off[] = { "--balloon-stats", "0", "--mem", "64M", NULL };
	const char *bad[][5] = {
		{ "--vm", "name=a,mem=64M,balloon_at=2", NULL },
		{ "--vm", "name=a,mem=64M,balloon_at=0:8M", NULL },
		{ "--vm", "name=a,mem=64M,balloon_at=1:5k", NULL },
		{ "--vm", "name=a,mem=64M,balloon_at=x:8M", NULL },
		{ "--balloon-stats", "-1", "--mem", "64M", NULL },
		{ "--balloon-stats", "4000", "--mem", "64M", NULL },
	};

	ck_assert_msg(parse(&cfg, args) == 0, "%s", err);
	ck_assert_uint_eq(cfg.balloon_stats_ms, 250);
	ck_assert_int_eq(cfg.vms[0].balloon_pinned, 1);
	ck_assert_uint_eq(cfg.vms[0].balloon, 16ULL << 20);
	ck_assert_uint_eq(cfg.vms[0].balloon_at_ns, 2500000000ULL);
	ck_assert_uint_eq(cfg.vms[0].balloon_at, 0);
	ck_assert_int_eq(cfg.vms[1].balloon_pinned, 1);   /* balloon_at alone pins too */
	ck_assert_uint_eq(cfg.vms[1].balloon_at, 8ULL << 20);
	ck_assert_int_eq(cfg.vms[2].balloon_pinned, 0);
	config_free(&cfg);
	ck_assert_msg(parse(&cfg, off) == 0, "%s", err);
	ck_assert_uint_eq(cfg.balloon_stats_ms, 0);
	config_free(&cfg);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(&cfg, bad[i]) != 0, "accepted bad line %u", i);
		config_free(&cfg);
	}
}
END_TEST

/* ---- the control socket's JSON --------------------------------------------- */

START_TEST(json_takes_flat_objects)
{
	struct json_obj o;
	char e[128];
	int str;
	const char *text = " {\"cmd\": \"set\", \"vm\":\"a\\u0041\\n\", \"n\": -12.5e3, \"on\":true,\"x\":null} ";

	ck_assert_msg(json_parse_object(text, strlen(text), &o, e, sizeof(e)) == 0, "%s", e);
	ck_assert_uint_eq(o.n, 5);
	ck_assert_str_eq(json_get(&o, "cmd", &str), "set");
	ck_assert_int_eq(str, 1);
	ck_assert_str_eq(json_get(&o, "vm", NULL), "aA\n");
	ck_assert_str_eq(json_get(&o, "n", &str), "-12.5e3");
	ck_assert_int_eq(str, 0);
	ck_assert_str_eq(json_get(&o, "on", NULL), "true");
	ck_assert_ptr_null(json_get(&o, "missing", NULL));
	ck_assert_int_eq(json_parse_object("{}", 2, &o, e, sizeof(e)), 0);
	ck_assert_uint_eq(o.n, 0);
}
END_TEST

START_TEST(json_refuses_what_it_does_not_take)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":{\"b\":1}}", "{\"a\":[1]}",
		"{\"a\":1} x", "{\"a\":1,\"a\":2}", "{\"a\":\"\\q\"}", "{\"a\":\"\\u00e9\"}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"unterminated}", "{\"a\":nope}", "{a:1}", "{\"a\":\"tab\there\"}",
	};
	struct json_obj o;
	char e[128], big[600];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(json_parse_object(bad[i], strlen(bad[i]), &o, e, sizeof(e)) == -1, "took %s", bad[i]);
	/* Longer than a value may be, and more keys than an object may have. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + sizeof(big) - 2, "\"}", 2);
	ck_assert_int_eq(json_parse_object(big, sizeof(big), &o, e, sizeof(e)), -1);
	{
		char many[512];
		size_t n = (size_t)snprintf(many, sizeof(many), "{");
		for (int i = 0; i <= JSON_MAX_KEYS; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "%s\"k%d\":1", i ? "," : "", i);
		snprintf(many + n, sizeof(many) - n, "}");
		ck_assert_int_eq(json_parse_object(many, strlen(many), &o, e, sizeof(e)), -1);
	}
}
END_TEST

START_TEST(json_escapes_strings)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_put_string(f, "a\"b\\c\n\x01");
	fclose(f);
	ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	free(buf);

	/* UTF-8 passes; bytes that are not (a stray lead, overlong, surrogate, past U+10FFFF) become U+FFFD. */
	f = open_memstream(&buf, &len);
	json_put_string(f, "\xc3\xa9|\xf0\x9f\x90\xa7|\xff\xfe|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82");
	fclose(f);
	ck_assert_str_eq(buf, "\"\xc3\xa9|\xf0\x9f\x90\xa7|\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
			      "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
	free(buf);
}
END_TEST

START_TEST(config_rejects_bad_command_lines)
{
	struct host_config cfg;

	err[0] = 0;
	ck_assert_msg(parse(&cfg, bad_cmdlines[_i].args) == -1, "case %d accepted", _i);
	ck_assert_msg(strstr(err, bad_cmdlines[_i].message) != NULL,
		      "case %d: error '%s' lacks '%s'", _i, err, bad_cmdlines[_i].message);
	config_free(&cfg);
}
END_TEST

/* ---- ELF loader ---------------------------------------------------------- */

#define RAM_SIZE (8ULL << 20)
#define LOAD_AT 0x200000ULL

/* A minimal valid guest: one RX segment of 16 bytes plus 4 KiB of bss. */
static size_t make_elf(uint8_t *buf, size_t cap)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph = { 0 };
	size_t off = sizeof(eh) + sizeof(ph);

	ck_assert_uint_ge(cap, off + 16);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = LOAD_AT + 4;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_X;
	ph.p_offset = off;
	ph.p_vaddr = ph.p_paddr = LOAD_AT;
	ph.p_filesz = 16;
	ph.p_memsz = 16 + 4096;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	for (int i = 0; i < 16; i++)
		buf[off + (size_t)i] = (uint8_t)(0xa0 + i);
	return off + 16;
}

static Elf64_Ehdr *ehdr(uint8_t *buf) { return (Elf64_Ehdr *)buf; }
static Elf64_Phdr *phdr(uint8_t *buf) { return (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr)); }

START_TEST(elf_loads_segments)
{
	uint8_t file[512];
	uint8_t *ram = malloc(RAM_SIZE);
	struct elf_image img;
	size_t len = make_elf(file, sizeof(file));

	memset(ram, 0x5a, RAM_SIZE);
	ck_assert_msg(elf_load(file, len, ram, RAM_SIZE, MV_IMAGE_MIN_GPA, &img, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(img.entry, LOAD_AT + 4);
	ck_assert_uint_eq(img.lowest, LOAD_AT);
	ck_assert_uint_eq(img.end, LOAD_AT + 16 + 4096);
	ck_assert_uint_eq(img.segments, 1);
	ck_assert_uint_eq(ram[LOAD_AT], 0xa0);
	ck_assert_uint_eq(ram[LOAD_AT + 15], 0xaf);
	ck_assert_uint_eq(ram[LOAD_AT + 16], 0);          /* bss zeroed */
	ck_assert_uint_eq(ram[LOAD_AT + 16 + 4095], 0);
	ck_assert_uint_eq(ram[LOAD_AT + 16 + 4096], 0x5a); /* nothing past it */
	ck_assert_uint_eq(ram[LOAD_AT - 1], 0x5a);
	free(ram);
}
END_TEST

enum elf_breakage {
	BREAK_MAGIC, BREAK_CLASS, BREAK_ENDIAN, BREAK_MACHINE, BREAK_TYPE, BREAK_PHENTSIZE,
	BREAK_PHNUM_ZERO, BREAK_PHNUM_HUGE, BREAK_PHOFF, BREAK_FILESZ, BREAK_OFFSET_WRAP,
	BREAK_BELOW_MIN, BREAK_PAST_RAM, BREAK_ADDR_WRAP, BREAK_VADDR, BREAK_ENTRY,
	BREAK_NOT_EXEC, BREAK_NO_LOAD, BREAK_TRUNCATED, BREAK_COUNT
};

START_TEST(elf_rejects_hostile_files)
{
	uint8_t file[512];
	uint8_t *ram = calloc(1, RAM_SIZE);
	struct elf_image img;
	size_t len = make_elf(file, sizeof(file));

	switch ((enum elf_breakage)_i) {
	case BREAK_MAGIC: file[1] = 'X'; break;
	case BREAK_CLASS: file[EI_CLASS] = ELFCLASS32; break;
	case BREAK_ENDIAN: file[EI_DATA] = ELFDATA2MSB; break;
	case BREAK_MACHINE: ehdr(file)->e_machine = EM_AARCH64; break;
	case BREAK_TYPE: ehdr(file)->e_type = ET_DYN; break;
	case BREAK_PHENTSIZE: ehdr(file)->e_phentsize = 32; break;
	case BREAK_PHNUM_ZERO: ehdr(file)->e_phnum = 0; break;
	case BREAK_PHNUM_HUGE: ehdr(file)->e_phnum = 60000; break;
	case BREAK_PHOFF: ehdr(file)->e_phoff = UINT64_MAX - 8; break;
	case BREAK_FILESZ: phdr(file)->p_filesz = phdr(file)->p_memsz + 1; break;
	case BREAK_OFFSET_WRAP: phdr(file)->p_offset = UINT64_MAX - 4; break;
	case BREAK_BELOW_MIN: phdr(file)->p_vaddr = phdr(file)->p_paddr = 0x1000;
		ehdr(file)->e_entry = 0x1004; break;
	case BREAK_PAST_RAM: phdr(file)->p_memsz = RAM_SIZE; break;
	case BREAK_ADDR_WRAP: phdr(file)->p_vaddr = phdr(file)->p_paddr = UINT64_MAX - 8;
		ehdr(file)->e_entry = UINT64_MAX - 4; break;
	case BREAK_VADDR: phdr(file)->p_vaddr = 0xffffffff80200000ULL; break;
	case BREAK_ENTRY: ehdr(file)->e_entry = LOAD_AT + 0x100000; break;
	case BREAK_NOT_EXEC: phdr(file)->p_flags = PF_R | PF_W; break;
	case BREAK_NO_LOAD: phdr(file)->p_type = PT_NOTE; break;
	case BREAK_TRUNCATED: len = 40; break;
	case BREAK_COUNT: break;
	}
	err[0] = 0;
	/* A sound file too big for RAM is told apart: that is a usage error. */
	ck_assert_msg(elf_load(file, len, ram, RAM_SIZE, MV_IMAGE_MIN_GPA, &img, err, sizeof(err)) ==
			      (_i == BREAK_PAST_RAM ? -2 : -1),
		      "breakage %d accepted or misreported", _i);
	ck_assert_msg(strlen(err) > 0, "breakage %d: no message", _i);
	/* Nothing may be written into RAM by a rejected file. */
	for (uint64_t a = 0; a < RAM_SIZE; a += 4096)
		ck_assert_uint_eq(ram[a], 0);
	ck_assert_uint_eq(ram[LOAD_AT + 1], 0);
	free(ram);
}
END_TEST

START_TEST(elf_rejects_short_buffers)
{
	uint8_t file[512];
	uint8_t *ram = calloc(1, RAM_SIZE);
	struct elf_image img;
	size_t len = make_elf(file, sizeof(file));

	/* Every prefix of a valid file is too short to load. */
	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(elf_load(file, n, ram, RAM_SIZE, MV_IMAGE_MIN_GPA, &img, err, sizeof(err)), -1);
	free(ram);
}
END_TEST

/* ---- boot layout --------------------------------------------------------- */

static uint64_t get64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, ram + gpa, sizeof(v));
	return v;
}

/* Walk the boot page tables like the MMU does (2 MiB pages). */
static int translate(const uint8_t *ram, uint64_t va, uint64_t *pa)
{
	uint64_t pml4e = get64(ram, MV_BOOT_PML4_GPA + ((va >> 39) & 511) * 8);
	uint64_t pdpte, pde;

	if (!(pml4e & 1))
		return -1;
	pdpte = get64(ram, (pml4e & ~0xfffULL) + ((va >> 30) & 511) * 8);
	if (!(pdpte & 1))
		return -1;
	pde = get64(ram, (pdpte & ~0xfffULL) + ((va >> 21) & 511) * 8);
	if (!(pde & 1) || !(pde & 0x80) || !(pde & 4) || !(pde & 2))
		return -1;
	*pa = (pde & ~0x1fffffULL) + (va & 0x1fffff);
	return 0;
}

START_TEST(boot_layout_identity_maps_all_ram)
{
	const uint64_t ram_size = (2ULL << 30) + (6ULL << 20); /* crosses a GiB boundary */
	uint8_t *ram = calloc(1, ram_size);
	struct boot_params bp = {
		.ram_size = ram_size, .tsc_khz = 2596140, .image_start = LOAD_AT,
		.image_end = LOAD_AT + 12345, .cmdline = "workload=hello x=1",
		.vcpus = 3, .vm_name = "vm-7",
	};
	struct mv_bootinfo bi;
	uint64_t pa;

	ck_assert_ptr_nonnull(ram);
	ck_assert_msg(boot_layout_write(ram, &bp, err, sizeof(err)) == 0, "%s", err);
	for (uint64_t va = 0; va < ram_size; va += MV_HUGE_PAGE_SIZE / 2) {
		ck_assert_msg(translate(ram, va, &pa) == 0, "0x%llx unmapped", (unsigned long long)va);
		ck_assert_uint_eq(pa, va);
	}
	ck_assert_int_eq(translate(ram, ram_size, &pa), -1);   /* nothing past RAM */
	ck_assert_int_eq(translate(ram, 1ULL << 39, &pa), -1);

	memcpy(&bi, ram + MV_BOOTINFO_GPA, sizeof(bi));
	ck_assert_uint_eq(bi.magic, MV_BOOTINFO_MAGIC);
	ck_assert_uint_eq(bi.version, MV_BOOTINFO_VERSION);
	ck_assert_uint_eq(bi.ram_size, ram_size);
	ck_assert_uint_eq(bi.tsc_khz, 2596140);
	ck_assert_uint_eq(bi.image_start, LOAD_AT);
	ck_assert_uint_eq(bi.free_start, LOAD_AT + 16384);   /* page aligned */
	ck_assert_uint_eq(bi.cmdline_gpa, MV_CMDLINE_GPA);
	ck_assert_uint_eq(bi.cmdline_len, strlen(bp.cmdline));
	ck_assert_str_eq((char *)ram + MV_CMDLINE_GPA, bp.cmdline);
	ck_assert_uint_eq(bi.vcpu_count, 3);
	ck_assert_str_eq(bi.vm_name, "vm-7");
	/* The GDT's code descriptor is 64-bit (L) and present. */
	ck_assert_uint_eq((get64(ram, MV_BOOT_GDT_GPA + 8) >> 53) & 1, 1);
	ck_assert_uint_eq((get64(ram, MV_BOOT_GDT_GPA + 8) >> 47) & 1, 1);
	/* The boot structures stay below the image and the stack stays clear of the PDs. */
	ck_assert_uint_le(MV_BOOT_PD_GPA + (MV_MAX_RAM >> 30) * MV_PAGE_SIZE, MV_BOOT_STACK_TOP - 64 * 1024);
	ck_assert_uint_le(MV_CMDLINE_GPA + MV_CMDLINE_MAX, MV_BOOT_PML4_GPA);
	ck_assert_uint_le(MV_BOOTINFO_GPA + sizeof(struct mv_bootinfo), MV_CMDLINE_GPA);
	free(ram);
}
END_TEST

START_TEST(boot_layout_rejects_long_cmdline)
{
	uint8_t *ram = calloc(1, 8ULL << 20);
	char *cmd = malloc(MV_CMDLINE_MAX + 1);
	struct boot_params bp = { .ram_size = 8ULL << 20, .image_end = LOAD_AT + 1, .vcpus = 1 };

	memset(cmd, 'a', MV_CMDLINE_MAX);
	cmd[MV_CMDLINE_MAX] = 0;
	bp.cmdline = cmd;
	ck_assert_int_eq(boot_layout_write(ram, &bp, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "command line"));
	cmd[MV_CMDLINE_MAX - 1] = 0;   /* the longest that fits */
	ck_assert_int_eq(boot_layout_write(ram, &bp, err, sizeof(err)), 0);
	free(cmd);
	free(ram);
}
END_TEST

START_TEST(boot_check_ram_limits)
{
	ck_assert_int_eq(boot_check_ram(8ULL << 20, LOAD_AT + 4096, err, sizeof(err)), 0);
	ck_assert_int_eq(boot_check_ram(4ULL << 20, LOAD_AT + 4096, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too small"));
	ck_assert_int_eq(boot_check_ram((8ULL << 20) + 4096, LOAD_AT, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "multiple of 2M"));
	ck_assert_int_eq(boot_check_ram(MV_MAX_RAM + (2ULL << 20), LOAD_AT, err, sizeof(err)), -1);
	ck_assert_int_eq(boot_check_ram(MV_MAX_RAM, LOAD_AT, err, sizeof(err)), 0);
}
END_TEST

START_TEST(boot_cpu_state_is_long_mode)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0xff, sizeof(s));
	boot_cpu_state(&s, &r, 0x200010, 2);
	ck_assert_uint_eq(r.rip, 0x200010);
	ck_assert_uint_eq(r.rdi, MV_BOOTINFO_GPA);
	ck_assert_uint_eq(r.rsi, 2);
	ck_assert_uint_eq(r.rsp, MV_BOOT_STACK_TOP - 2 * 1024);
	ck_assert_uint_eq(r.rflags, 2);                 /* IF clear */
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.cs.dpl, 0);
	ck_assert_uint_eq(s.cs.selector, 0x08);
	ck_assert_uint_eq(s.ss.selector, 0x10);
	ck_assert_uint_eq(s.cr3, MV_BOOT_PML4_GPA);
	ck_assert_uint_eq(s.cr0 & 0x80000001ULL, 0x80000001ULL);  /* PG, PE */
	ck_assert_uint_eq(s.cr4 & 0x20, 0x20);                    /* PAE */
	ck_assert_uint_eq(s.efer & 0xd01, 0xd01);                 /* SCE LME LMA NXE */
}
END_TEST

static Suite *vmm_suite(void)
{
	Suite *s = suite_create("vmm");
	TCase *tc = tcase_create("size");

	tcase_add_test(tc, size_accepts_suffixes);
	tcase_add_test(tc, size_rejects_garbage);
	tcase_add_test(tc, size_format_round_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, config_multi_vm);
	tcase_add_test(tc, config_single_vm_shorthand);
	tcase_add_test(tc, config_swap_options);
	tcase_add_test(tc, config_share_options);
	tcase_add_test(tc, ram_map_skips_the_hole);
	tcase_add_test(tc, config_balloon_options);
	tcase_add_test(tc, json_takes_flat_objects);
	tcase_add_test(tc, json_refuses_what_it_does_not_take);
	tcase_add_test(tc, json_escapes_strings);
	tcase_add_loop_test(tc, config_rejects_bad_command_lines, 0,
			    (int)(sizeof(bad_cmdlines) / sizeof(bad_cmdlines[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("elf");
	tcase_add_test(tc, elf_loads_segments);
	tcase_add_loop_test(tc, elf_rejects_hostile_files, 0, BREAK_COUNT);
	tcase_add_test(tc, elf_rejects_short_buffers);
	suite_add_tcase(s, tc);

	tc = tcase_create("boot");
	tcase_add_test(tc, boot_layout_identity_maps_all_ram);
	tcase_add_test(tc, boot_layout_rejects_long_cmdline);
	tcase_add_test(tc, boot_check_ram_limits);
	tcase_add_test(tc, boot_cpu_state_is_long_mode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vmm_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

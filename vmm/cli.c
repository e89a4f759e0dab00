// SPDX-License-Identifier: GPL-2.0-only
/*
 * The command line.  Every error names the option and says what would be
 * accepted; nothing here touches the host.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory.h"
#include "passthrough/passthrough.h"
#include "vmm/cli.h"

#define CLI_MAX_VCPUS 254

static int cli_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cli_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: ferry -kernel BZIMAGE [options]\n"
		"\n"
		"Boots a Linux kernel in a KVM virtual machine.\n"
		"\n"
		"  -kernel PATH        the Linux bzImage to boot (required)\n"
		"  -initrd PATH        initial ramdisk\n"
		"  -append STRING      kernel command line\n"
		"  -m SIZE             guest RAM: 512 (MiB), 512M, 2G (default 512M)\n"
		"  -smp N              number of vCPUs (default 1)\n"
		"  -mem-path DIR       back guest RAM with a file in DIR (a hugetlbfs mount)\n"
		"  -serial DEV         COM1: stdio (default), none, file:PATH\n"
		"  -nographic          no display; the console is COM1 on stdio\n"
		"  -no-reboot          exit when the guest resets instead of booting again\n"
		"  -S                  build the machine but run no guest instruction until\n"
		"                      QMP's cont (needs -qmp)\n"
		"  -name NAME          name of the guest\n"
		"  -pidfile PATH       write ferry's pid to PATH\n"
		"  -device passthrough,host=DDDD:BB:DD.F[,id=ID][,addr=SLOT]\n"
		"                      pass a host PCI device through (VFIO); vfio-pci is an alias\n"
		"                      [,iommufd=ID]: through that iommufd object (cdev, IOAS)\n"
		"                      [,x-no-mmap=on]: trap every BAR access (debugging)\n"
		"                      [,fd=N|/dev/fdset/S]: the group /dev/vfio/N (or with\n"
		"                      iommufd= the cdev) opened by the caller\n"
		"                      [,managed=on]: bind the device to vfio-pci first and give\n"
		"                      it back to its driver when it is removed\n"
		"  -object iommufd,id=ID[,fd=N]\n"
		"                      an iommufd with one IOAS for the devices naming it\n"
		"  -qmp unix:PATH,server=on,wait=off\n"
		"                      QMP control socket\n"
		"  -libvirt-uri URI    managed=on devices are detached and reattached through\n"
		"                      this libvirt connection (e.g. qemu:///system)\n"
		"  -run-with user=NAME|UID:GID[,keep-ipc-lock=on]\n"
		"                      after the set-up, become that user with no capabilities\n"
		"                      (RLIMIT_MEMLOCK raised first; keep-ipc-lock=on keeps\n"
		"                      CAP_IPC_LOCK instead)\n"
		"  -add-fd fd=N,set=S[,opaque=TEXT]\n"
		"                      inherited fd N joins fd set S; -device ...,fd=/dev/fdset/S\n"
		"                      uses it (a group /dev/vfio/N, or with iommufd= a cdev)\n"
		"  -h, --help          show this help\n"
		"  --version           show the version\n"
		"\n"
		"ferry exits with status 0 when the guest powers off (or, with -no-reboot,\n"
		"resets).\n");
}

int cli_parse_size(const char *text, unsigned long long *bytes)
{
	unsigned long long v = 0, mult = 1ULL << 20;	/* a plain number is MiB */
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (~0ULL - 9) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (*p) {
		switch (toupper((unsigned char)*p)) {
		case 'B':
			mult = 1;
			break;
		case 'K':
			mult = 1ULL << 10;
			break;
		case 'M':
			mult = 1ULL << 20;
			break;
		case 'G':
			mult = 1ULL << 30;
			break;
		case 'T':
			mult = 1ULL << 40;
			break;
		default:
			return -EINVAL;
		}
		p++;
		/* Accept K, KB, KiB (all binary, as QEMU does). */
		if (mult > 1 && (!strcasecmp(p, "iB") || !strcasecmp(p, "B")))
			p += strlen(p);
		if (*p)
			return -EINVAL;
	}
	if (v && mult > ~0ULL / v)
		return -ERANGE;
	*bytes = v * mult;
	return 0;
}

static char *cli_own(struct cli_opts *o, const char *s, size_t len)
{
	char **n = realloc(o->owned, (o->nr_owned + 1) * sizeof(*n));
	char *copy;

	if (!n)
		return NULL;
	o->owned = n;
	copy = strndup(s, len);
	if (!copy)
		return NULL;
	o->owned[o->nr_owned++] = copy;
	return copy;
}

/*
 * Splits "a,k=v,k2=v2" into items; calls @fn(key, keylen, val) for each,
 * key NULL for a first item without '='.  QEMU's ",," escape is not needed
 * by any value ferry accepts.
 */
static int cli_items(struct cli_opts *o, const char *spec,
		     int (*fn)(struct cli_opts *o, void *ctx, const char *key, size_t keylen,
			       const char *val),
		     void *ctx)
{
	const char *p = spec;
	bool first = true;

	while (1) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		char *val;
		int ret;

		if (eq) {
			val = cli_own(o, eq + 1, len - (size_t)(eq + 1 - p));
			if (!val)
				return -ENOMEM;
			ret = fn(o, ctx, p, (size_t)(eq - p), val);
		} else {
			val = cli_own(o, p, len);
			if (!val)
				return -ENOMEM;
			ret = fn(o, ctx, first ? NULL : val, first ? 0 : len, first ? val : NULL);
		}
		if (ret)
			return ret;
		first = false;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static bool key_is(const char *key, size_t keylen, const char *name)
{
	return key && strlen(name) == keylen && !strncmp(key, name, keylen);
}

struct cli_ctx {
	const char *opt;	/* the option's text, for messages */
	const char *spec;
	char *err;
	size_t errlen;
	unsigned long long num;
	bool have_num;
};

static int cli_m_item(struct cli_opts *o, void *opaque, const char *key, size_t keylen,
		      const char *val)
{
	struct cli_ctx *c = opaque;
	int ret;

	if (key && !key_is(key, keylen, "size"))
		return cli_err(c->err, c->errlen, "-m %s: only a size is supported "
			       "(e.g. -m 2G)", c->spec);
	if (!val || c->have_num)
		return cli_err(c->err, c->errlen, "-m %s: give one size (e.g. -m 2G)", c->spec);
	ret = cli_parse_size(val, &c->num);
	if (ret == -ERANGE)
		return cli_err(c->err, c->errlen, "-m %s: size too large", c->spec);
	if (ret)
		return cli_err(c->err, c->errlen, "-m %s: not a size; use a number of MiB or "
			       "a number with a K, M, G or T suffix (e.g. 512M, 2G)", c->spec);
	c->have_num = true;
	return 0;
}

static int cli_opt_m(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	struct cli_ctx c = { .spec = arg, .err = err, .errlen = errlen };
	int ret = cli_items(o, arg, cli_m_item, &c);

	if (ret)
		return ret;
	if (!c.have_num)
		return cli_err(err, errlen, "-m %s: give a size (e.g. -m 2G)", arg);
	if (c.num < MEM_RAM_MIN)
		return cli_err(err, errlen, "-m %s: too small; ferry needs at least 16 MiB", arg);
	if (c.num > MEM_RAM_MAX)
		return cli_err(err, errlen, "-m %s: too large; ferry supports up to 1 TiB", arg);
	if (c.num & 4095)
		return cli_err(err, errlen, "-m %s: not a multiple of 4 KiB", arg);
	o->vm.ram_size = c.num;
	return 0;
}

static int cli_number(const char *s, unsigned long long *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int cli_smp_item(struct cli_opts *o, void *opaque, const char *key, size_t keylen,
			const char *val)
{
	struct cli_ctx *c = opaque;
	unsigned long long n;

	if (!val || cli_number(val, &n))
		return cli_err(c->err, c->errlen, "-smp %s: not a number of vCPUs (e.g. -smp 2)",
			       c->spec);
	if (!key || key_is(key, keylen, "cpus")) {
		c->num = n;
		c->have_num = true;
		return 0;
	}
	/* One socket is presented whatever the split; maxcpus must not ask for hot-plug. */
	if (key_is(key, keylen, "sockets") || key_is(key, keylen, "cores") ||
	    key_is(key, keylen, "threads") || key_is(key, keylen, "dies"))
		return 0;
	if (key_is(key, keylen, "maxcpus")) {
		if (c->have_num && n != c->num)
			return cli_err(c->err, c->errlen, "-smp %s: CPU hot-plug is not supported "
				       "(maxcpus must equal the vCPU count)", c->spec);
		return 0;
	}
	return cli_err(c->err, c->errlen, "-smp %s: unknown key '%.*s' (give -smp N)", c->spec,
		       (int)keylen, key);
}

static int cli_opt_smp(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	struct cli_ctx c = { .spec = arg, .err = err, .errlen = errlen };
	int ret = cli_items(o, arg, cli_smp_item, &c);

	if (ret)
		return ret;
	if (!c.have_num)
		return cli_err(err, errlen, "-smp %s: give a number of vCPUs (e.g. -smp 2)", arg);
	if (c.num < 1 || c.num > CLI_MAX_VCPUS)
		return cli_err(err, errlen, "-smp %s: the vCPU count must be 1 to %d", arg,
			       CLI_MAX_VCPUS);
	o->vm.nr_vcpus = (unsigned int)c.num;
	return 0;
}

static int cli_opt_serial(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "stdio") || !strcmp(arg, "mon:stdio")) {
		o->vm.serial = VMM_SERIAL_STDIO;
	} else if (!strcmp(arg, "none") || !strcmp(arg, "null")) {
		o->vm.serial = VMM_SERIAL_NONE;
	} else if (!strncmp(arg, "file:", 5) && arg[5]) {
		o->vm.serial = VMM_SERIAL_FILE;
		o->vm.serial_path = arg + 5;
	} else {
		return cli_err(err, errlen, "-serial %s: unsupported; use stdio, none or "
			       "file:PATH", arg);
	}
	return 0;
}

static int cli_name_item(struct cli_opts *o, void *opaque, const char *key, size_t keylen,
			 const char *val)
{
	if (!key || key_is(key, keylen, "guest"))
		o->vm.name = val;
	/* Other keys (process=, debug-threads=) do not change what ferry does. */
	return 0;
}

#define CLI_FDSET_PREFIX "fd=/dev/fdset/"

/* A -device that names an fd set: judged once -add-fd's are all read. */
static bool cli_device_uses_fdset(const char *spec)
{
	const char *p = strstr(spec, CLI_FDSET_PREFIX);

	return p && (p == spec || p[-1] == ',');
}

/*
 * -device is the passthrough layer's option: it alone knows what a
 * passthrough device accepts, so its parser is the one that judges the text
 * (the machine parses it again when it attaches the device).
 */
static int cli_opt_device(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	struct passthrough_opts opts, prev;
	struct vmm_device_config *n;
	int ret;

	if (!strcmp(arg, "help") || !strcmp(arg, "?"))
		return cli_err(err, errlen, "-device: ferry has one driver: passthrough "
			       "(alias vfio-pci),host=DDDD:BB:DD.F[,id=ID][,addr=SLOT]");
	if (cli_device_uses_fdset(arg)) {
		/* cli_resolve_fdsets() rewrites it to fd=N and judges it then. */
		opts.id[0] = '\0';
	} else {
		ret = passthrough_opts_parse(arg, &opts, err, errlen);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; opts.id[0] && i < o->nr_devices; i++) {
		if (passthrough_opts_parse(o->devices[i].spec, &prev, NULL, 0))
			continue;
		if (!strcmp(prev.id, opts.id))
			return cli_err(err, errlen, "-device %s: id '%s' is already used", arg,
				       opts.id);
	}
	n = realloc(o->devices, (o->nr_devices + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	o->devices = n;
	o->devices[o->nr_devices++] = (struct vmm_device_config){ .spec = arg };
	o->vm.devices = o->devices;
	o->vm.nr_devices = o->nr_devices;
	return 0;
}

struct cli_add_fd {
	const char *spec;
	char *err;
	size_t errlen;
	long long fd, set;	/* -1 unset */
	const char *opaque;
};

static int cli_add_fd_item(struct cli_opts *o, void *opaque, const char *key, size_t keylen,
			   const char *val)
{
	struct cli_add_fd *c = opaque;
	unsigned long long n;

	(void)o;
	if (!key || !val)
		return cli_err(c->err, c->errlen, "-add-fd %s: write key=value (e.g. -add-fd "
			       "fd=5,set=1)", c->spec);
	if (key_is(key, keylen, "opaque")) {
		c->opaque = val;
		return 0;
	}
	if (!key_is(key, keylen, "fd") && !key_is(key, keylen, "set"))
		return cli_err(c->err, c->errlen, "-add-fd %s: unknown key '%.*s' (give fd=N, "
			       "set=S and optionally opaque=TEXT)", c->spec, (int)keylen, key);
	if (cli_number(val, &n) || n > 0x7fffffff)
		return cli_err(c->err, c->errlen, "-add-fd %s: %.*s=%s is not a number", c->spec,
			       (int)keylen, key, val);
	if (key_is(key, keylen, "fd")) {
		/* QEMU's rule too: the standard streams are never a set's member. */
		if (n <= 2)
			return cli_err(c->err, c->errlen, "-add-fd %s: fd=%s is stdin, stdout or "
				       "stderr: pass the file as another descriptor", c->spec, val);
		c->fd = (long long)n;
	} else {
		c->set = (long long)n;
	}
	return 0;
}

static int cli_opt_add_fd(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	struct cli_add_fd c = { .spec = arg, .err = err, .errlen = errlen, .fd = -1, .set = -1 };
	struct cli_fdset_fd *n;
	int ret = cli_items(o, arg, cli_add_fd_item, &c);

	if (ret)
		return ret;
	if (c.fd < 0 || c.set < 0)
		return cli_err(err, errlen, "-add-fd %s: give both fd=N (an inherited file "
			       "descriptor) and set=S (e.g. -add-fd fd=5,set=1)", arg);
	for (unsigned int i = 0; i < o->nr_fdset_fds; i++) {
		if (o->fdset_fds[i].fd == c.fd)
			return cli_err(err, errlen, "-add-fd %s: fd %lld is already in fd set %u",
				       arg, c.fd, o->fdset_fds[i].set);
	}
	n = realloc(o->fdset_fds, (o->nr_fdset_fds + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	o->fdset_fds = n;
	o->fdset_fds[o->nr_fdset_fds++] = (struct cli_fdset_fd){
		.fd = (int)c.fd, .set = (unsigned int)c.set, .opaque = c.opaque,
	};
	return 0;
}

/*
 * After every option is read (QEMU's -add-fd may follow the option that uses
 * the set): each -device fd=/dev/fdset/S becomes fd=N, N the set's first fd,
 * and is judged like any -device.
 */
static int cli_resolve_fdsets(struct cli_opts *o, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < o->nr_devices; i++) {
		const char *spec = o->devices[i].spec, *p, *end;
		struct passthrough_opts check;
		unsigned long long set;
		char num[24], *copy;
		const struct cli_fdset_fd *f = NULL;
		size_t len;
		int ret;

		if (!cli_device_uses_fdset(spec))
			continue;
		p = strstr(spec, CLI_FDSET_PREFIX) + strlen(CLI_FDSET_PREFIX);
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len >= sizeof(num))
			len = sizeof(num) - 1;
		memcpy(num, p, len);
		num[len] = '\0';
		if (cli_number(num, &set))
			return cli_err(err, errlen, "-device %s: /dev/fdset/%s: an fd set is a "
				       "number (e.g. fd=/dev/fdset/1 with -add-fd fd=N,set=1)",
				       spec, num);
		for (unsigned int j = 0; j < o->nr_fdset_fds && !f; j++) {
			if (o->fdset_fds[j].set == set)
				f = &o->fdset_fds[j];
		}
		if (!f)
			return cli_err(err, errlen, "-device %s: fd set %llu has no fd: add "
				       "-add-fd fd=N,set=%llu", spec, set, set);
		snprintf(num, sizeof(num), "%d", f->fd);
		/* spec up to "fd=", the number, and the rest from @end. */
		len = (size_t)(p - spec) - strlen("/dev/fdset/");
		copy = malloc(len + strlen(num) + (end ? strlen(end) : 0) + 1);
		if (!copy)
			return -ENOMEM;
		sprintf(copy, "%.*s%s%s", (int)len, spec, num, end ? end : "");
		if (!cli_own(o, copy, strlen(copy))) {
			free(copy);
			return -ENOMEM;
		}
		free(copy);
		o->devices[i].spec = o->owned[o->nr_owned - 1];
		ret = passthrough_opts_parse(o->devices[i].spec, &check, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

struct cli_object {
	const char *spec;
	char *err;
	size_t errlen;
	const char *type, *id;
	bool has_fd;
	int fd;
};

static int cli_object_item(struct cli_opts *o, void *opaque, const char *key, size_t keylen,
			   const char *val)
{
	struct cli_object *c = opaque;
	unsigned long long n;

	if (!key || key_is(key, keylen, "qom-type")) {
		if (c->type)
			return cli_err(c->err, c->errlen, "-object %s: the type is given twice",
				       c->spec);
		c->type = val;
		if (strcmp(val, "iommufd"))
			return cli_err(c->err, c->errlen, "-object %s: unknown object type '%s' "
				       "(ferry has one: -object iommufd,id=ID[,fd=N])", c->spec,
				       val);
		return 0;
	}
	if (!val)
		return cli_err(c->err, c->errlen, "-object %s: '%s' is not a property: write "
			       "key=value", c->spec, key);
	if (key_is(key, keylen, "id")) {
		if (c->id)
			return cli_err(c->err, c->errlen, "-object %s: id is given twice",
				       c->spec);
		c->id = val;
		return 0;
	}
	if (key_is(key, keylen, "fd")) {
		if (c->has_fd)
			return cli_err(c->err, c->errlen, "-object %s: fd is given twice",
				       c->spec);
		if (cli_number(val, &n) || n > 0x7fffffff)
			return cli_err(c->err, c->errlen, "-object %s: fd=%s: give the number of "
				       "an open /dev/iommu file descriptor", c->spec, val);
		c->has_fd = true;
		c->fd = (int)n;
		return 0;
	}
	return cli_err(c->err, c->errlen, "-object %s: unknown property '%.*s' (an iommufd "
		       "object takes id and fd)", c->spec, (int)keylen, key);
}

/* -object iommufd,id=ID[,fd=N] (QEMU's; qom-type=iommufd also names the type). */
static int cli_opt_object(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	struct cli_object c = { .spec = arg, .err = err, .errlen = errlen, .fd = -1 };
	struct passthrough_opts check;
	struct vmm_iommufd_config *n;
	int ret;

	if (!strcmp(arg, "help") || !strcmp(arg, "?"))
		return cli_err(err, errlen, "-object: ferry has one object type: "
			       "iommufd,id=ID[,fd=N]");
	ret = cli_items(o, arg, cli_object_item, &c);
	if (ret)
		return ret;
	if (!c.type)
		return cli_err(err, errlen, "-object %s: no type: start with iommufd "
			       "(e.g. -object iommufd,id=iommufd0)", arg);
	if (!c.id)
		return cli_err(err, errlen, "-object %s: an object needs an id, which -device "
			       "names with iommufd=ID (e.g. -object iommufd,id=iommufd0)", arg);
	/* The id is what -device's iommufd= takes: judge it with the same rule. */
	passthrough_opts_init(&check);
	if (passthrough_opts_set(&check, "iommufd", c.id, NULL, 0))
		return cli_err(err, errlen, "-object %s: id=%s: an id starts with a letter and "
			       "has only letters, digits, '-', '.' and '_' (at most %d)", arg,
			       c.id, PASSTHROUGH_ID_MAX);
	for (unsigned int i = 0; i < o->nr_iommufds; i++) {
		if (!strcmp(o->iommufds[i].id, c.id))
			return cli_err(err, errlen, "-object %s: id '%s' is already used by "
				       "another -object", arg, c.id);
	}
	n = realloc(o->iommufds, (o->nr_iommufds + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	o->iommufds = n;
	o->iommufds[o->nr_iommufds++] = (struct vmm_iommufd_config){ .id = c.id, .fd = c.fd };
	o->vm.iommufds = o->iommufds;
	o->vm.nr_iommufds = o->nr_iommufds;
	return 0;
}

/*
 * After every option is read (QEMU creates objects before devices, whatever
 * their order): each iommufd= must name an -object iommufd.
 */
static int cli_check_iommufd_refs(struct cli_opts *o, char *err, size_t errlen)
{
	struct passthrough_opts d;

	for (unsigned int i = 0; i < o->nr_devices; i++) {
		bool found = false;

		if (passthrough_opts_parse(o->devices[i].spec, &d, NULL, 0) || !d.iommufd[0])
			continue;
		for (unsigned int j = 0; j < o->nr_iommufds && !found; j++)
			found = !strcmp(o->iommufds[j].id, d.iommufd);
		if (!found)
			return cli_err(err, errlen, "-device %s: iommufd=%s names no object: add "
				       "-object iommufd,id=%s", o->devices[i].spec, d.iommufd,
				       d.iommufd);
	}
	return 0;
}

static int cli_opt_qmp(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	if (strncmp(arg, "unix:", 5) || !arg[5] || arg[5] == ',')
		return cli_err(err, errlen, "-qmp %s: ferry serves QMP on a unix socket: "
			       "-qmp unix:PATH,server,wait=off", arg);
	o->qmp = arg;
	return 0;
}

struct cli_run_with {
	const char *spec;
	char *err;
	size_t errlen;
	const char *user;
	int keep_ipc_lock;	/* -1 unset */
};

static int cli_run_with_item(struct cli_opts *o, void *opaque, const char *key, size_t keylen,
			     const char *val)
{
	struct cli_run_with *c = opaque;

	(void)o;
	if (!key || !val)
		return cli_err(c->err, c->errlen, "-run-with %s: write key=value (e.g. -run-with "
			       "user=nobody)", c->spec);
	if (key_is(key, keylen, "user")) {
		if (c->user)
			return cli_err(c->err, c->errlen, "-run-with %s: user is given twice",
				       c->spec);
		if (!*val)
			return cli_err(c->err, c->errlen, "-run-with %s: user= is empty: give a "
				       "user name or UID:GID", c->spec);
		c->user = val;
		return 0;
	}
	if (key_is(key, keylen, "keep-ipc-lock")) {
		if (c->keep_ipc_lock >= 0)
			return cli_err(c->err, c->errlen, "-run-with %s: keep-ipc-lock is given "
				       "twice", c->spec);
		if (!strcmp(val, "on") || !strcmp(val, "yes") || !strcmp(val, "true"))
			c->keep_ipc_lock = 1;
		else if (!strcmp(val, "off") || !strcmp(val, "no") || !strcmp(val, "false"))
			c->keep_ipc_lock = 0;
		else
			return cli_err(c->err, c->errlen, "-run-with %s: keep-ipc-lock=%s: give "
				       "on or off", c->spec, val);
		return 0;
	}
	return cli_err(c->err, c->errlen, "-run-with %s: unknown key '%.*s' (ferry takes "
		       "user=NAME|UID:GID and keep-ipc-lock=on|off)", c->spec, (int)keylen, key);
}

/* -run-with user=NAME|UID:GID[,keep-ipc-lock=on|off] (QEMU's option; one ferry key added). */
static int cli_opt_run_with(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	struct cli_run_with c = { .spec = arg, .err = err, .errlen = errlen, .keep_ipc_lock = -1 };
	int ret;

	if (o->run_as)
		return cli_err(err, errlen, "-run-with %s: -run-with is given twice", arg);
	ret = cli_items(o, arg, cli_run_with_item, &c);
	if (ret)
		return ret;
	if (!c.user)
		return cli_err(err, errlen, "-run-with %s: say which user to become with user=NAME "
			       "or user=UID:GID", arg);
	o->run_as = c.user;
	o->keep_ipc_lock = c.keep_ipc_lock == 1;
	return 0;
}

enum cli_opt_id {
	OPT_HELP, OPT_VERSION, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_M, OPT_SMP,
	OPT_MEM_PATH, OPT_SERIAL, OPT_NOGRAPHIC, OPT_NO_REBOOT, OPT_NAME, OPT_PIDFILE,
	OPT_DEVICE, OPT_QMP, OPT_OBJECT, OPT_RUN_WITH, OPT_ADD_FD,
	OPT_LIBVIRT_URI, OPT_PRELAUNCH,
};

static const struct {
	const char *name;
	enum cli_opt_id id;
	bool has_arg;
} cli_table[] = {
	{ "h", OPT_HELP, false },
	{ "help", OPT_HELP, false },
	{ "version", OPT_VERSION, false },
	{ "kernel", OPT_KERNEL, true },
	{ "initrd", OPT_INITRD, true },
	{ "append", OPT_APPEND, true },
	{ "m", OPT_M, true },
	{ "smp", OPT_SMP, true },
	{ "mem-path", OPT_MEM_PATH, true },
	{ "serial", OPT_SERIAL, true },
	{ "nographic", OPT_NOGRAPHIC, false },
	{ "no-reboot", OPT_NO_REBOOT, false },
	{ "name", OPT_NAME, true },
	{ "pidfile", OPT_PIDFILE, true },
	{ "device", OPT_DEVICE, true },
	{ "qmp", OPT_QMP, true },
	{ "object", OPT_OBJECT, true },
	{ "run-with", OPT_RUN_WITH, true },
	{ "add-fd", OPT_ADD_FD, true },
	{ "libvirt-uri", OPT_LIBVIRT_URI, true },
	{ "S", OPT_PRELAUNCH, false },
};

static int cli_nonempty(const char *opt, const char *arg, const char **dst, char *err,
			size_t errlen)
{
	if (!*arg)
		return cli_err(err, errlen, "-%s: empty path", opt);
	*dst = arg;
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen)
{
	bool serial_given = false;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	o->action = CLI_RUN;
	o->vm.ram_size = CLI_DEFAULT_RAM;
	o->vm.nr_vcpus = 1;
	o->vm.serial = VMM_SERIAL_STDIO;

	for (int i = 1; i < argc && !ret; i++) {
		const char *a = argv[i], *name, *arg = NULL;
		size_t k;

		if (a[0] != '-' || !a[1])
			return cli_err(err, errlen, "unexpected argument '%s' (options start with "
				       "'-'; try --help)", a);
		name = a + 1 + (a[1] == '-');
		for (k = 0; k < sizeof(cli_table) / sizeof(cli_table[0]); k++) {
			if (!strcmp(cli_table[k].name, name))
				break;
		}
		if (k == sizeof(cli_table) / sizeof(cli_table[0]))
			return cli_err(err, errlen, "unknown option '%s' (try --help)", a);
		if (cli_table[k].has_arg) {
			if (i + 1 >= argc)
				return cli_err(err, errlen, "option %s needs a value (try --help)",
					       a);
			arg = argv[++i];
		}
		switch (cli_table[k].id) {
		case OPT_HELP:
			o->action = CLI_HELP;
			return 0;
		case OPT_VERSION:
			o->action = CLI_VERSION;
			return 0;
		case OPT_KERNEL:
			ret = cli_nonempty("kernel", arg, &o->vm.kernel, err, errlen);
			break;
		case OPT_INITRD:
			ret = cli_nonempty("initrd", arg, &o->vm.initrd, err, errlen);
			break;
		case OPT_APPEND:
			o->vm.cmdline = arg;
			break;
		case OPT_M:
			ret = cli_opt_m(o, arg, err, errlen);
			break;
		case OPT_SMP:
			ret = cli_opt_smp(o, arg, err, errlen);
			break;
		case OPT_MEM_PATH:
			ret = cli_nonempty("mem-path", arg, &o->vm.mem_path, err, errlen);
			break;
		case OPT_SERIAL:
			ret = cli_opt_serial(o, arg, err, errlen);
			serial_given = true;
			break;
		case OPT_NOGRAPHIC:
			/* ferry has no display: COM1 on stdio unless -serial said otherwise. */
			if (!serial_given)
				o->vm.serial = VMM_SERIAL_STDIO;
			break;
		case OPT_NO_REBOOT:
			o->vm.no_reboot = true;
			break;
		case OPT_NAME:
			ret = cli_items(o, arg, cli_name_item, NULL);
			break;
		case OPT_PIDFILE:
			ret = cli_nonempty("pidfile", arg, &o->pidfile, err, errlen);
			break;
		case OPT_DEVICE:
			ret = cli_opt_device(o, arg, err, errlen);
			break;
		case OPT_QMP:
			ret = cli_opt_qmp(o, arg, err, errlen);
			break;
		case OPT_OBJECT:
			ret = cli_opt_object(o, arg, err, errlen);
			break;
		case OPT_RUN_WITH:
			ret = cli_opt_run_with(o, arg, err, errlen);
			break;
		case OPT_ADD_FD:
			ret = cli_opt_add_fd(o, arg, err, errlen);
			break;
		case OPT_LIBVIRT_URI:
			ret = cli_nonempty("libvirt-uri", arg, &o->vm.libvirt_uri, err, errlen);
			break;
		case OPT_PRELAUNCH:
			o->vm.prelaunch = true;
			break;
		}
	}
	if (ret == -ENOMEM)
		return cli_err(err, errlen, "out of memory parsing the command line");
	if (ret)
		return ret;
	ret = cli_resolve_fdsets(o, err, errlen);
	if (ret == -ENOMEM)
		return cli_err(err, errlen, "out of memory parsing the command line");
	if (ret)
		return ret;
	ret = cli_check_iommufd_refs(o, err, errlen);
	if (ret)
		return ret;
	if (!o->vm.kernel)
		return cli_err(err, errlen, "no kernel to boot: give a Linux bzImage with -kernel "
			       "PATH (try --help)");
	/* Only QMP's cont starts a -S machine: without QMP it would wait for ever. */
	if (o->vm.prelaunch && !o->qmp)
		return cli_err(err, errlen, "-S waits for QMP's cont, and there is no QMP: give "
			       "-qmp unix:PATH,server=on,wait=off too");
	return 0;
}

void cli_opts_free(struct cli_opts *o)
{
	for (unsigned int i = 0; i < o->nr_owned; i++)
		free(o->owned[i]);
	free(o->owned);
	free(o->devices);
	free(o->iommufds);
	free(o->fdset_fds);
	memset(o, 0, sizeof(*o));
}

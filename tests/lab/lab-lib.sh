# shellcheck shell=bash
# Shared functions of the lab scripts (sourced, not executed).
#
# The cache lives outside the work tree so that every checkout and every
# build directory reuses the same kernel and initramfs.  Each entry is a
# directory named after a hash of everything that went into it; it is built
# in a temporary sibling and renamed into place, so an interrupted build never
# leaves an entry that looks complete.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CACHE=${FERRY_LAB_CACHE:-/var/cache/ferry-lab}
LAB_KSRC_TARBALL=${FERRY_LAB_KSRC:-/usr/src/linux-source-6.12.tar.xz}
LAB_KSRC_PKG=linux-source-6.12

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# The legacy kernel: Debian's 6.1 package, newest installed.
lab_legacy_release() {
	local r
	r=$(cd /lib/modules && ls -d 6.1.0-*-amd64 2>/dev/null | sort -V | tail -n 1)
	[ -n "$r" ] || return 1
	[ -f "/boot/vmlinuz-$r" ] || return 1
	echo "$r"
}

lab_ksrc_version() {
	dpkg-query -W -f='${Version}' "$LAB_KSRC_PKG" 2>/dev/null ||
		stat -c '%s-%Y' "$LAB_KSRC_TARBALL"
}

lab_kernel_key() {
	{ cat "$LAB_DIR/kernel-iommufd.config"; lab_ksrc_version; } |
		sha256sum | cut -c1-16
}

lab_kernel_image() { echo "$LAB_CACHE/kernel-$(lab_kernel_key)/bzImage"; }

# Apply the fragment with scripts/config and check the result.
lab_kernel_configure() {
	local src=$1 frag=$LAB_DIR/kernel-iommufd.config line opt val args=()
	make -C "$src" x86_64_defconfig || return 1
	while IFS= read -r line; do
		case $line in '#'*|'') continue ;; esac
		opt=${line%%=*}
		val=${line#*=}
		case $val in
		y) args+=(--enable "$opt") ;;
		n) args+=(--disable "$opt") ;;
		*) args+=(--set-val "$opt" "$val") ;;
		esac
	done <"$frag"
	"$src/scripts/config" --file "$src/.config" "${args[@]}" || return 1
	make -C "$src" olddefconfig || return 1
	# A second pass: options whose dependencies only appeared in the first.
	"$src/scripts/config" --file "$src/.config" "${args[@]}" || return 1
	make -C "$src" olddefconfig || return 1
	lab_kernel_check_config "$src/.config"
}

lab_kernel_check_config() {
	local cfg=$1 frag=$LAB_DIR/kernel-iommufd.config line opt val bad=0
	while IFS= read -r line; do
		case $line in '#'*|'') continue ;; esac
		opt=${line%%=*}
		val=${line#*=}
		if [ "$val" = y ]; then
			if ! grep -qx "CONFIG_$opt=y" "$cfg"; then
				lab_log "config: CONFIG_$opt is not =y after olddefconfig" \
					"($(grep -E "CONFIG_${opt}[= ]" "$cfg" || echo unset))"
				bad=1
			fi
		elif [ "$val" = n ] && [ "$opt" != MODULES ]; then
			if grep -qx "CONFIG_$opt=[ym]" "$cfg"; then
				lab_log "config: CONFIG_$opt is still on after olddefconfig"
				bad=1
			fi
		fi
	done <"$frag"
	if grep -qx 'CONFIG_MODULES=y' "$cfg"; then
		lab_log "config: CONFIG_MODULES is still on"
		bad=1
	fi
	return $bad
}

# Build (or reuse) the iommufd kernel; prints the bzImage path.
lab_kernel_build() {
	local key dir tmp log src jobs=${FERRY_LAB_JOBS:-2}
	key=$(lab_kernel_key)
	dir=$LAB_CACHE/kernel-$key
	if [ -f "$dir/bzImage" ]; then
		echo "$dir/bzImage"
		return 0
	fi
	[ -f "$LAB_KSRC_TARBALL" ] ||
		lab_die "$LAB_KSRC_TARBALL missing: apt-get install $LAB_KSRC_PKG"
	mkdir -p "$LAB_CACHE" || lab_die "cannot create $LAB_CACHE (set FERRY_LAB_CACHE)"
	# One build at a time per key: a second caller waits and reuses it.
	local lock
	exec {lock}>"$LAB_CACHE/kernel-$key.lock"
	if ! flock -n "$lock"; then
		lab_log "another process is building kernel-$key; waiting for it"
		flock "$lock"
	fi
	if [ -f "$dir/bzImage" ]; then
		exec {lock}>&-
		echo "$dir/bzImage"
		return 0
	fi
	tmp=$(mktemp -d "$LAB_CACHE/.kernel-$key.XXXXXX") || return 1
	log=$LAB_CACHE/kernel-$key.build.log
	lab_log "building the iommufd kernel (key $key, -j$jobs); log: $log"
	local t0=$SECONDS
	# Chained with &&, not set -e: errexit is off inside a tested subshell.
	if ! (
		tar -C "$tmp" -xf "$LAB_KSRC_TARBALL" &&
		src=$(echo "$tmp"/linux-source-*) &&
		[ -d "$src" ] &&
		lab_kernel_configure "$src" &&
		nice make -C "$src" -j"$jobs" bzImage &&
		cp "$src/arch/x86/boot/bzImage" "$tmp/bzImage" &&
		cp "$src/.config" "$tmp/config" &&
		rm -rf "$src"
	) >"$log" 2>&1; then
		lab_log "kernel build FAILED; see $log (last lines below)"
		tail -n 30 "$log" >&2
		rm -rf "$tmp"
		exec {lock}>&-
		return 1
	fi
	echo "built in $((SECONDS - t0)) s" >>"$log"
	cp "$log" "$tmp/build.log"
	if ! mv -T "$tmp" "$dir" 2>/dev/null; then
		# Someone else finished first: theirs is as good as ours.
		rm -rf "$tmp"
	fi
	exec {lock}>&-
	lab_log "kernel built in $((SECONDS - t0)) s: $dir/bzImage"
	echo "$dir/bzImage"
}

# Modules the legacy lab loads, in load order (dependencies first; checked
# against modinfo when the initramfs is built).  e1000 is the host driver the
# notviable set leaves in a vfio group.
LAB_LEGACY_MODULES="irqbypass ccp kvm kvm-amd vfio vfio_iommu_type1 vfio_virqfd
vfio-pci-core vfio-pci virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
virtio_pci 9pnet 9pnet_virtio netfs fscache 9p e1000"

lab_busybox() {
	local b
	for b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$b" ] && file -L "$b" 2>/dev/null | grep -q 'statically linked'; then
			echo "$b"
			return 0
		fi
	done
	# "file" may be missing: fall back to ldd's verdict
	for b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

# lab_initramfs_fill DIR BUSYBOX [MODULE FILE]... -> DIR/initramfs.cpio.gz
lab_initramfs_fill() {
	local tmp=$1 bb=$2 r=$1/root name f
	local -
	set -o pipefail
	shift 2
	mkdir -p "$r"/{bin,dev,proc,sys,run,host,lib/modules} || return 1
	cp "$bb" "$r/bin/busybox" || return 1
	ln -s busybox "$r/bin/sh" || return 1
	install -m 755 "$LAB_DIR/lab-init" "$r/init" || return 1
	while [ $# -gt 0 ]; do
		name=$1 f=$2
		shift 2
		case $f in
		*.ko.xz) xz -dc "$f" ;;
		*.ko.zst) zstd -qdc "$f" ;;
		*.ko.gz) gzip -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$r/lib/modules/$name.ko" || return 1
		echo "$name" >>"$r/lib/modules/order" || return 1
	done
	(cd "$r" && find . | sort | cpio -o -H newc --quiet) | gzip -9 >"$tmp/initramfs.cpio.gz" ||
		return 1
	rm -rf "$r"
}

# lab_initramfs_build legacy|iommufd -> path of the cpio.gz
lab_initramfs_build() {
	local kind=$1 rel="" bb key dir tmp m f loaded=" " dep list=()
	bb=$(lab_busybox) || lab_die "no static busybox: apt-get install busybox-static"
	if [ "$kind" = legacy ]; then
		rel=$(lab_legacy_release) || lab_die "no Debian 6.1 kernel: apt-get install linux-image-amd64"
		for m in $LAB_LEGACY_MODULES; do
			f=$(modinfo -k "$rel" -F filename "$m") || lab_die "module $m missing for $rel"
			# every dependency must already be in the list before it
			for dep in $(modinfo -k "$rel" -F depends "$m" | tr , ' '); do
				case $loaded in
				*" $dep "* | *" ${dep//_/-} "* | *" ${dep//-/_} "*) ;;
				*) lab_die "module order: $m needs $dep first" ;;
				esac
			done
			loaded="$loaded$m "
			list+=("$m" "$f")
		done
	fi
	key=$( {
		echo "$kind $rel"
		sha256sum "$bb" "$LAB_DIR/lab-init"
		for ((m = 1; m < ${#list[@]}; m += 2)); do sha256sum "${list[m]}"; done
	} | sha256sum | cut -c1-16)
	dir=$LAB_CACHE/initramfs-$kind-$key
	if [ -f "$dir/initramfs.cpio.gz" ]; then
		echo "$dir/initramfs.cpio.gz"
		return 0
	fi
	mkdir -p "$LAB_CACHE" || lab_die "cannot create $LAB_CACHE (set FERRY_LAB_CACHE)"
	tmp=$(mktemp -d "$LAB_CACHE/.initramfs-$kind-$key.XXXXXX") || return 1
	# errexit would be off in a subshell tested by ||: check each step
	if ! lab_initramfs_fill "$tmp" "$bb" "${list[@]}"; then
		rm -rf "$tmp"
		lab_die "initramfs build failed"
	fi
	mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	lab_log "initramfs ($kind) built: $dir/initramfs.cpio.gz"
	echo "$dir/initramfs.cpio.gz"
}

lab_check_prereqs() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	lab_legacy_release >/dev/null || missing+=(linux-image-amd64)
	lab_busybox >/dev/null || missing+=(busybox-static)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v modinfo >/dev/null || missing+=(kmod)
	# what building the iommufd kernel takes, unless it is cached already
	if [ "${1:-}" != no-source ] && [ ! -f "$(lab_kernel_image)" ]; then
		[ -f "$LAB_KSRC_TARBALL" ] || missing+=("$LAB_KSRC_PKG")
		command -v gcc >/dev/null || missing+=(gcc)
		command -v make >/dev/null || missing+=(make)
		command -v bc >/dev/null || missing+=(bc)
		command -v bison >/dev/null || missing+=(bison)
		command -v flex >/dev/null || missing+=(flex)
		command -v xz >/dev/null || missing+=(xz-utils)
		[ -f /usr/include/gelf.h ] || missing+=(libelf-dev)
		[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		lab_log "missing Debian packages: ${missing[*]}"
		lab_log "install them with: apt-get install ${missing[*]}"
		return 1
	fi
}

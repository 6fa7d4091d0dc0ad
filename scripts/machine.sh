# Sourced by the measuring scripts: what the machine is, printed beside
# every figure they report.

# kvm_provider: the kernel module behind /dev/kvm (kvm_intel, kvm_amd, kvm_pvm), or unknown.
kvm_provider() {
	local m
	for m in kvm_pvm kvm_intel kvm_amd; do
		[ -d /sys/module/$m ] && { echo $m; return; }
	done
	echo unknown
}

# disk_of DIR: the block device DIR lives on, its model, and whether the kernel calls it rotational.
disk_of() {
	local dev
	dev=$(df --output=source "$1" | tail -n 1)
	echo "$dev $(lsblk -dno MODEL,ROTA "$dev" 2>/dev/null | awk '{r = $NF == 1 ? "rotational" : "non-rotational"; $NF = ""; print $0 "(" r ")"}')"
}

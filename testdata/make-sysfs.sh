#!/usr/bin/env bash
# Builds testdata/sys: the sysfs of an 8-GPU LLM serving node (HGX H100 class).
#   mlx5_0..mlx5_7  ConnectX-7 NDR 400G InfiniBand, one per GPU behind the same PCIe switch
#   mlx5_8, mlx5_9  a dual-port ConnectX-7 in Ethernet mode (RoCE, 200G) with netdevs
# and the faults the collector must survive:
#   mlx5_2          counters/ at the maximum of their PMA widths, as real CX-7 ports show them:
#                   port_xmit_wait 2^32-1, port_xmit_discards 65535, link_downed 255
#   mlx5_3          port down (DOWN / Disabled)
#   mlx5_5          counters/port_rcv_errors is unreadable (a directory: EISDIR)
#   mlx5_6          counters/symbol_error reads "N/A (no PMA)"
#   mlx5_7          has no counters_ext/
#   mlx5_9          hw_counters/out_of_sequence holds garbage
# The PCI topology (bus/pci/devices symlinks into devices/pci*) pairs each HCA
# with its GPU under one switch, for the attribution work that builds on it.
# Run from the repository root: bash testdata/make-sysfs.sh
set -euo pipefail
out=${1:-testdata/sys}
rm -rf "$out"
mkdir -p "$out/class/infiniband" "$out/class/net" "$out/bus/pci/devices"

# w FILE VALUE: write a sysfs attribute (with the kernel's trailing newline).
w() { mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" > "$1"; }

# pcidev PATH VENDOR DEVICE CLASS NUMA: a PCI function and its bus/pci/devices link.
pcidev() {
  local path=$1 addr; addr=$(basename "$1")
  w "$path/vendor" "$2"; w "$path/device" "$3"; w "$path/class" "$4"; w "$path/numa_node" "$5"
  ln -s "../../../${path#"$out"/}" "$out/bus/pci/devices/$addr"
}

# Per GPU/HCA pair a PCIe root bus R: switch upstream port on R+1, its two
# downstream ports on R+2, the HCA on R+3 and the GPU on R+4.
roots=(15 37 48 59 97 b7 c8 d9)
bus() { printf '%02x' $((0x$1 + $2)); }

counter_files=(excessive_buffer_overrun_errors link_downed link_error_recovery local_link_integrity_errors
  multicast_rcv_packets multicast_xmit_packets port_rcv_constraint_errors port_rcv_data port_rcv_discards
  port_rcv_errors port_rcv_packets port_rcv_remote_physical_errors port_rcv_switch_relay_errors
  port_xmit_constraint_errors port_xmit_data port_xmit_discards port_xmit_packets port_xmit_wait
  symbol_error unicast_rcv_packets unicast_xmit_packets VL15_dropped)
ext_files=(port_multicast_rcv_packets port_multicast_xmit_packets port_rcv_data_64 port_rcv_packets_64
  port_unicast_rcv_packets port_unicast_xmit_packets port_xmit_data_64 port_xmit_packets_64)
ib_hw_files=(duplicate_request implied_nak_seq_err lifespan local_ack_timeout_err out_of_buffer
  out_of_sequence packet_seq_err req_cqe_error req_cqe_flush_error req_remote_access_errors
  req_remote_invalid_request resp_cqe_error resp_cqe_flush_error resp_local_length_error
  resp_remote_access_errors rnr_nak_retry_err rx_atomic_requests rx_dct_connect rx_read_requests
  rx_write_requests)
roce_hw_files=("${ib_hw_files[@]}" np_cnp_sent np_ecn_marked_roce_packets roce_adp_retrans
  roce_adp_retrans_to roce_slow_restart roce_slow_restart_cnps roce_slow_restart_trans rp_cnp_handled
  rp_cnp_ignored rx_icrc_encapsulated req_rnr_retries_exceeded req_transport_retries_exceeded)

# value SEED NAME: a deterministic, realistic-looking counter value.
value() {
  local seed=$1 name=$2 h
  h=$(printf '%s' "$name" | cksum | cut -d' ' -f1)
  case $name in
    *data*) echo $(( (seed + 1) * 912345678901 + h % 1000003 )) ;;
    *packets*|*requests*) echo $(( (seed + 1) * 4567890123 + h % 100003 )) ;;
    port_xmit_wait) echo $(( (seed + 1) * 12345678 + h % 1009 )) ;;
    lifespan) echo 12 ;;
    local_link_integrity_errors|excessive_buffer_overrun_errors) echo $(( (seed * 7 + h) % 15 )) ;; # 4-bit PMA fields: at most 15
    *) echo $(( (seed * 7 + h) % 23 )) ;;
  esac
}

# port DIR SEED LINK_LAYER: a port with counters/ and hw_counters/.
port() {
  local dir=$1 seed=$2 ll=$3 f
  w "$dir/link_layer" "$ll"
  w "$dir/lid" "0x$(printf '%x' $((seed + 17)))"
  w "$dir/sm_lid" "0x1"
  for f in "${counter_files[@]}"; do w "$dir/counters/$f" "$(value "$seed" "$f")"; done
  if [ "$ll" = Ethernet ]; then
    for f in "${roce_hw_files[@]}"; do w "$dir/hw_counters/$f" "$(value "$seed" "$f")"; done
  else
    for f in "${ib_hw_files[@]}"; do w "$dir/hw_counters/$f" "$(value "$seed" "$f")"; done
  fi
}

# hca INDEX PCIDIR LINK_LAYER NETDEV: an RDMA device at a PCI function.
hca() {
  local i=$1 pci=$2 ll=$3 netdev=$4 dev=mlx5_$1 d
  d="$pci/infiniband/$dev"
  w "$d/board_id" "MT_0000000838"
  w "$d/fw_ver" "28.39.1002"
  w "$d/hca_type" "MT4129"
  w "$d/node_type" "1: CA"
  w "$d/node_guid" "$(printf 'a088:c203:00%02x:%04x' "$i" $((0x1e00 + i * 16)))"
  w "$d/sys_image_guid" "$(printf 'a088:c203:00%02x:%04x' "$i" $((0x1e00 + i * 16)))"
  ln -s ../../../"$(basename "$pci")" "$d/device"
  ln -s "../../${d#"$out"/}" "$out/class/infiniband/$dev"
  port "$d/ports/1" "$i" "$ll"
  w "$pci/net/$netdev/dev_port" 0
  w "$pci/net/$netdev/operstate" up
  ln -s "../../${pci#"$out"/}/net/$netdev" "$out/class/net/$netdev"
  if [ "$ll" = Ethernet ]; then
    w "$d/ports/1/gid_attrs/ndevs/0" "$netdev"
    w "$d/ports/1/gid_attrs/types/0" "IB/RoCE v1"
    w "$d/ports/1/state" "4: ACTIVE"; w "$d/ports/1/phys_state" "5: LinkUp"
    w "$d/ports/1/rate" "200 Gb/sec (4X HDR)"
  else
    w "$d/ports/1/state" "4: ACTIVE"; w "$d/ports/1/phys_state" "5: LinkUp"
    w "$d/ports/1/rate" "400 Gb/sec (4X NDR)"
    for f in "${ext_files[@]}"; do w "$d/ports/1/counters_ext/$f" "$(value "$i" "$f")"; done
  fi
}

for i in 0 1 2 3 4 5 6 7; do
  r=${roots[$i]} h=$(bus "${roots[$i]}" 3) g=$(bus "${roots[$i]}" 4)
  numa=$(( i < 4 ? 0 : 1 ))
  sw="$out/devices/pci0000:$r/0000:$r:01.0"
  pcidev "$sw" 0x8086 0x352a 0x060400 "$numa"                         # root port
  up="$sw/0000:$(bus "$r" 1):00.0"
  pcidev "$up" 0x1000 0xc030 0x060400 "$numa"                         # PCIe switch upstream port
  dn=$(bus "$r" 2)
  pcidev "$up/0000:$dn:00.0" 0x1000 0xc030 0x060400 "$numa"           # downstream port to the HCA
  pcidev "$up/0000:$dn:01.0" 0x1000 0xc030 0x060400 "$numa"           # downstream port to the GPU
  pcidev "$up/0000:$dn:00.0/0000:$h:00.0" 0x15b3 0x1021 0x020700 "$numa"   # ConnectX-7 (IB)
  pcidev "$up/0000:$dn:01.0/0000:$g:00.0" 0x10de 0x2330 0x030200 "$numa"   # H100 SXM5
  hca "$i" "$up/0000:$dn:00.0/0000:$h:00.0" InfiniBand "ibp${h}s0"
done

# The dual-port Ethernet (RoCE) ConnectX-7: two PCI functions, one RDMA device each.
eth="$out/devices/pci0000:a0/0000:a0:03.0"
pcidev "$eth" 0x8086 0x352a 0x060400 1
pcidev "$eth/0000:a1:00.0" 0x15b3 0x1021 0x020000 1
pcidev "$eth/0000:a1:00.1" 0x15b3 0x1021 0x020000 1
hca 8 "$eth/0000:a1:00.0" Ethernet ens12f0np0
hca 9 "$eth/0000:a1:00.1" Ethernet ens12f1np1

# Faults.
ib() { echo "$out/class/infiniband/mlx5_$1/ports/1"; }
w "$(ib 2)/counters/port_xmit_wait" 4294967295; w "$(ib 2)/counters/port_xmit_discards" 65535
w "$(ib 2)/counters/link_downed" 255
w "$(ib 3)/state" "1: DOWN"; w "$(ib 3)/phys_state" "3: Disabled"; w "$(ib 3)/rate" "10 Gb/sec (4X SDR)"
rm "$(ib 5)/counters/port_rcv_errors"
w "$(ib 5)/counters/port_rcv_errors/why" "a directory where the kernel has a file: reading it fails with EISDIR"
w "$(ib 6)/counters/symbol_error" "N/A (no PMA)"
rm -r "$(ib 7)/counters_ext"
w "$out/devices/pci0000:a0/0000:a0:03.0/0000:a1:00.1/infiniband/mlx5_9/ports/1/hw_counters/out_of_sequence" "0x1f?"
echo "wrote $out"

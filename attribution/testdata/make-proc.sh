#!/usr/bin/env bash
# Builds attribution/testdata/proc: the host /proc of an LLM serving node, as
# far as the attribution code reads it (cmdline, environ, cgroup, stat).
#   pod A  SGLang P/D prefill, DP attention DP4 x TP4, GPUs 0-3
#          cgroup v2, systemd driver, containerd, burstable
#   pod B  SGLang P/D decode, DP attention DP4 x TP4, GPUs 4-7
#          cgroup v1, cgroupfs driver, containerd; PID 2013 has no DP in its
#          title (SGLANG_DP_RANK=3 in its environment)
#   pod C  SGLang unified, DP attention DP8 x TP8 (scheduler_DP0_TP0..DP7_TP7)
#          cgroup v2, systemd driver, CRI-O, guaranteed QoS
#   pod D  vLLM prefill (kv_producer), TP2: EngineCore_DP0 + Worker_DP0_TP0/1
#          cgroup v1, systemd driver, CRI-O
#   pod E  vLLM with NixlConnector kv_both (role unknown), EngineCore_DP1
#          cgroup v2, systemd driver, containerd, besteffort
#   pod F  SGLang without setproctitle: the scheduler is a bare multiprocessing
#          child, SGLANG_DP_RANK=2 in its environment; cgroupfs, docker
#   7000   a host process (no pod), 7100 a process whose cgroup is unreadable
# Run from the repository root: bash attribution/testdata/make-proc.sh
set -euo pipefail
out=${1:-attribution/testdata/proc}
rm -rf "$out"
mkdir -p "$out"

# proc PID PPID COMM CGROUP ENVIRON ARG...: one process. Arguments become
# /proc/PID/cmdline (NUL-separated, NUL-terminated), ENVIRON a ';'-separated
# list of NAME=VALUE, CGROUP a ';'-separated list of cgroup lines.
proc() {
  local pid=$1 ppid=$2 comm=$3 cg=$4 env=$5 d; shift 5
  d="$out/$pid"; mkdir -p "$d"
  printf '%s\0' "$@" > "$d/cmdline"
  if [ -n "$env" ]; then tr ';' '\0' <<<"$env;" | head -c -1 > "$d/environ"; else : > "$d/environ"; fi
  tr ';' '\n' <<<"$cg" > "$d/cgroup"
  printf '%s (%s) S %s %s %s 0 -1 4194560 1000 0 0 0 10 5 0 0 20 0 50 0 12345 1000000 500 18446744073709551615 1 1 0 0 0 0 0 16781312 16386 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n' \
    "$pid" "$comm" "$ppid" "$pid" "$pid" > "$d/stat"
}
# title PID PPID CGROUP ENVIRON TITLE: a process that set its title with
# setproctitle (the title fills the old argv area, padded with NULs).
title() {
  local pid=$1 ppid=$2 cg=$3 env=$4 t=$5
  proc "$pid" "$ppid" python3 "$cg" "$env" "$t"
  printf '\0\0\0\0\0\0\0\0' >> "$out/$pid/cmdline"
}

base_env="PATH=/usr/local/bin:/usr/bin;HOME=/root;CUDA_DEVICE_MAX_CONNECTIONS=1"
shim() { proc "$1" 1 containerd-shim "0::/system.slice/containerd.service" "" /usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id "$2" -address /run/containerd/containerd.sock; }

# Pod A: SGLang prefill, cgroup v2 + systemd + containerd.
a_uid=1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b
a_cid=a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8
a_cg="0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${a_uid//-/_}.slice/cri-containerd-${a_cid}.scope"
shim 900 "$a_cid"
proc 1000 900 python3 "$a_cg" "$base_env" python3 -m sglang.launch_server --model-path /models/DeepSeek-V3 \
  --tp 4 --dp 4 --enable-dp-attention --disaggregation-mode prefill --disaggregation-ib-device mlx5_0,mlx5_1,mlx5_2,mlx5_3 --port 30000
title 1001 1000 "$a_cg" "$base_env" sglang::data_parallel_controller
for i in 0 1 2 3; do title $((1010 + i)) 1001 "$a_cg" "$base_env;SGLANG_DP_RANK=$i" "sglang::scheduler_DP${i}_TP${i}"; done
title 1020 1000 "$a_cg" "$base_env" sglang::detokenizer

# Pod B: SGLang decode, cgroup v1 + cgroupfs driver + containerd.
b_uid=2e1b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c
b_cid=b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9
b_path="/kubepods/burstable/pod${b_uid}/${b_cid}"
b_cg="12:memory:$b_path;11:cpu,cpuacct:$b_path;10:devices:$b_path;9:pids:$b_path;1:name=systemd:$b_path;0::/"
proc 1900 1 containerd-shim "1:name=systemd:/system.slice/containerd.service;0::/" "" /usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id "$b_cid"
proc 2000 1900 python3 "$b_cg" "$base_env" python3 -m sglang.launch_server --model-path /models/DeepSeek-V3 \
  --tp 4 --dp 4 --enable-dp-attention --disaggregation-mode=decode --port 30001
title 2001 2000 "$b_cg" "$base_env" sglang::data_parallel_controller
for i in 0 1 2; do title $((2010 + i)) 2001 "$b_cg" "$base_env" "sglang::scheduler_DP${i}_TP${i}"; done
title 2013 2001 "$b_cg" "$base_env;SGLANG_DP_RANK=3" sglang::scheduler_TP3

# Pod C: SGLang unified DP8 x TP8, cgroup v2 + systemd + CRI-O, guaranteed QoS.
c_uid=3d2c4e5f-6a7b-4c80-8d9e-1f2a3b4c5d6e
c_cid=c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0
c_cg="0::/kubepods.slice/kubepods-pod${c_uid//-/_}.slice/crio-${c_cid}.scope"
proc 2900 1 conmon "0::/kubepods.slice/kubepods-pod${c_uid//-/_}.slice/crio-conmon-${c_cid}.scope" "" /usr/bin/conmon -c "$c_cid"
proc 3000 2900 python3 "$c_cg" "$base_env" python3 -m sglang.launch_server --model-path /models/DeepSeek-R1 --tp 8 --dp 8 --enable-dp-attention
title 3001 3000 "$c_cg" "$base_env" sglang::data_parallel_controller
for i in 0 1 2 3 4 5 6 7; do title $((3010 + i)) 3001 "$c_cg" "$base_env" "sglang::scheduler_DP${i}_TP${i}"; done

# Pod D: vLLM prefill (kv_producer) TP2, cgroup v1 + systemd + CRI-O.
d_uid=4c3d5e6f-7a8b-4d90-9eaf-2a3b4c5d6e7f
d_cid=d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0e1e1e1e1
d_path="/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${d_uid//-/_}.slice/crio-${d_cid}.scope"
d_cg="13:memory:$d_path;7:cpuset:$d_path;1:name=systemd:$d_path"
proc 3900 1 conmon "1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${d_uid//-/_}.slice/crio-conmon-${d_cid}.scope" "" /usr/bin/conmon -c "$d_cid"
proc 4000 3900 vllm "$d_cg" "$base_env" /usr/bin/python3 /usr/local/bin/vllm serve meta-llama/Llama-3.1-70B-Instruct \
  --tensor-parallel-size 2 --kv-transfer-config '{"kv_connector":"P2pNcclConnector","kv_role":"kv_producer","kv_port":"21001"}'
title 4001 4000 "$d_cg" "$base_env" VLLM::EngineCore_DP0
title 4002 4001 "$d_cg" "$base_env" VLLM::Worker_DP0_TP0
title 4003 4001 "$d_cg" "$base_env" VLLM::Worker_DP0_TP1

# Pod E: vLLM, NixlConnector kv_both (role unknown), cgroup v2 + containerd, besteffort.
e_uid=5b4e6f7a-8b9c-4ea0-8fb0-3b4c5d6e7f80
e_cid=e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0e1e1e1e1f2f2f2f2
e_cg="0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${e_uid//-/_}.slice/cri-containerd-${e_cid}.scope"
proc 5000 900 python3 "$e_cg" "$base_env" python3 -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-32B \
  --data-parallel-size 2 '--kv-transfer-config={"kv_connector":"NixlConnector","kv_role":"kv_both"}'
title 5001 5000 "$e_cg" "$base_env" VLLM::EngineCore_DP1

# Pod F: SGLang without setproctitle, cgroupfs + docker (cri-dockerd).
f_uid=6a5f7a8b-9cad-4fb0-90c1-4c5d6e7f8091
f_cid=f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0e1e1e1e1f2f2f2f2a3a3a3a3
f_path="/kubepods/besteffort/pod${f_uid}/${f_cid}"
f_cg="4:memory:$f_path;1:name=systemd:$f_path"
proc 6000 1 python3 "$f_cg" "$base_env" python3 -m sglang.launch_server --model-path /models/Llama-3-8B --dp 4
proc 6001 6000 python3 "$f_cg" "$base_env;SGLANG_DP_RANK=2" python3 -c 'from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)' --multiprocessing-fork

# A host process outside any pod, and a process whose cgroup file is missing.
proc 7000 1 python3 "0::/user.slice/user-1000.slice/session-3.scope" "" python3 train.py --epochs 3
proc 7100 1 python3 "" "" sglang::scheduler_DP5_TP5
rm "$out/7100/cgroup"
echo "wrote $out"

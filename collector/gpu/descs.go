package gpu

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

type descs struct {
	up, info, utilization, memUtilization             *prometheus.Desc
	memUsed, memTotal, memReserved, engineMemory      *prometheus.Desc
	power, powerLimit, energy, temperature            *prometheus.Desc
	smClock, memClock, clockEvent                     *prometheus.Desc
	ecc, remapped, remapPending, remapFailure         *prometheus.Desc
	pcieReplay, pcieGen, pcieWidth, pcieBytes         *prometheus.Desc
	nvlinkState, nvlinkErrors, xidErrors, xidLastSeen *prometheus.Desc
	errors                                            *prometheus.Desc
	gpmSupported                                      *prometheus.Desc
	gpm                                               [gpmFamilies]*prometheus.Desc
}

func newDescs(attribution []string) descs {
	base := append([]string{"gpu", "uuid"}, attribution...)
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(collector.Namespace, subsystem, name), help, labels, nil)
	}
	return descs{
		up:             desc("up", "1 when the GPU answers NVML, 0 when it is lost (ERROR_GPU_IS_LOST, GPU_NOT_FOUND) or failing.", base),
		info:           desc("info", "Static facts about the GPU; value is always 1.", with("name", "pci_bus_id", "driver_version", "cuda_version", "mig_mode")),
		utilization:    desc("utilization_ratio", "Share of the last sample period during which a kernel was running (NVML's classic utilisation; see GPM metrics for SM activity).", base),
		memUtilization: desc("memory_copy_utilization_ratio", "Share of the last sample period during which device memory was being read or written.", base),
		memUsed:        desc("memory_used_bytes", "Device memory in use, in bytes.", base),
		memTotal:       desc("memory_total_bytes", "Total device memory, in bytes.", base),
		memReserved:    desc("memory_reserved_bytes", "Device memory reserved by the driver and firmware, in bytes.", base),
		engineMemory:   desc("process_memory_used_bytes", "Device memory used by the compute processes (inference engines) running on the GPU, in bytes.", base),
		power:          desc("power_watts", "Current power draw in watts.", base),
		powerLimit:     desc("power_limit_watts", "Enforced power limit in watts.", base),
		energy:         desc("energy_joules_total", "Energy consumed since the driver was loaded, in joules.", base),
		temperature:    desc("temperature_celsius", "Temperature in degrees Celsius by sensor (gpu, memory).", with("sensor")),
		smClock:        desc("sm_clock_hertz", "Current SM clock in hertz.", base),
		memClock:       desc("memory_clock_hertz", "Current memory clock in hertz.", base),
		clockEvent:     desc("clock_event_reason_active", "1 while the named clock-event (throttle) reason holds the clocks down, else 0.", with("reason")),
		ecc:            desc("ecc_errors_total", "ECC errors over the GPU's lifetime (aggregate counters) by type (corrected, uncorrected).", with("type")),
		remapped:       desc("remapped_rows", "Memory rows remapped over the GPU's lifetime, by cause (correctable, uncorrectable).", with("cause")),
		remapPending:   desc("remapped_rows_pending", "1 when a row remapping is pending and the GPU needs a reset.", base),
		remapFailure:   desc("remapped_rows_failure", "1 when a row remapping failed: the GPU should be replaced.", base),
		pcieReplay:     desc("pcie_replay_errors_total", "PCIe replay (retransmission) events.", base),
		pcieGen:        desc("pcie_link_generation", "Current PCIe link generation.", base),
		pcieWidth:      desc("pcie_link_width", "Current PCIe link width (lanes).", base),
		pcieBytes:      desc("pcie_throughput_bytes_per_second", "PCIe throughput sampled by NVML over 20 ms, by direction (tx, rx); opt-in.", with("direction")),
		nvlinkState:    desc("nvlink_up", "1 when the NVLink is active, else 0.", with("link")),
		nvlinkErrors:   desc("nvlink_errors_total", "NVLink errors by link and counter (replay, recovery, crc_flit, crc_data).", with("link", "counter")),
		xidErrors:      desc("xid_errors_total", "XID errors reported by the driver since the exporter started, by XID code.", with("xid")),
		xidLastSeen:    desc("xid_last_seen_timestamp_seconds", "Unix time at which the XID code was last seen on the GPU.", with("xid")),
		gpmSupported:   desc("gpm_supported", "1 when the GPM profiling metrics are sampled on the GPU; 0 with the reason why not (gpu_not_supported, driver_lacks_gpm, ...).", with("reason")),
		gpm: [gpmFamilies]*prometheus.Desc{
			gpmSMActive:         desc("sm_active_ratio", "Share of time an SM had at least one warp assigned, averaged over the SMs (GPM; DCGM_FI_PROF_SM_ACTIVE).", with("gpu_instance")),
			gpmSMOccupancy:      desc("sm_occupancy_ratio", "Resident warps over the SMs' maximum, averaged over the sample interval (GPM; DCGM_FI_PROF_SM_OCCUPANCY).", with("gpu_instance")),
			gpmTensorActive:     desc("tensor_active_ratio", "Share of time any tensor pipe was active (GPM; DCGM_FI_PROF_PIPE_TENSOR_ACTIVE).", with("gpu_instance")),
			gpmTensorHMMAActive: desc("tensor_hmma_active_ratio", "Share of time the fp16/bf16 (HMMA) tensor pipe was active (GPM; DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE).", with("gpu_instance")),
			gpmFP64Active:       desc("fp64_active_ratio", "Share of time the non-tensor FP64 pipe was active (GPM; DCGM_FI_PROF_PIPE_FP64_ACTIVE).", with("gpu_instance")),
			gpmFP32Active:       desc("fp32_active_ratio", "Share of time the non-tensor FP32 pipe was active (GPM; DCGM_FI_PROF_PIPE_FP32_ACTIVE).", with("gpu_instance")),
			gpmFP16Active:       desc("fp16_active_ratio", "Share of time the non-tensor FP16 pipe was active (GPM; DCGM_FI_PROF_PIPE_FP16_ACTIVE).", with("gpu_instance")),
			gpmDRAMBandwidth:    desc("dram_bandwidth_utilization_ratio", "DRAM bandwidth used over the theoretical maximum (GPM; DCGM_FI_PROF_DRAM_ACTIVE).", with("gpu_instance")),
			gpmPCIeBytes:        desc("pcie_bytes_per_second", "PCIe traffic by direction (tx: from the GPU, rx: to it) over the last GPM interval (DCGM_FI_PROF_PCIE_TX_BYTES, _RX_BYTES).", with("gpu_instance", "direction")),
			gpmNVLinkBytes:      desc("nvlink_bytes_per_second", "NVLink traffic over all links by direction (tx, rx) over the last GPM interval (DCGM_FI_PROF_NVLINK_TX_BYTES, _RX_BYTES).", with("gpu_instance", "direction")),
			gpmNVLinkLinkBytes:  desc("nvlink_link_bytes_per_second", "NVLink traffic per link by direction (tx, rx) over the last GPM interval; opt-in (--collector.gpu.gpm-nvlink-per-link).", with("gpu_instance", "direction", "link")),
		},
		errors: desc("nvml_errors_total", "NVML calls that gave no value (failed, not supported, or a value NVML marked not available), by GPU, call and return.", []string{"gpu", "call", "return"}),
	}
}

package gpu

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// batch gathers one GPU's metrics so that a GPU lost halfway through is
// reported as up=0 alone, not as a half-read set of series.
type batch struct {
	c       *Collector
	st      *deviceState
	gpu     string
	lost    bool
	pending []pendingMetric
	scratch []string // label values handed to add; reused, never retained
}

type pendingMetric struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	value  float64
	labels []*dto.LabelPair
}

// with returns the GPU's labels followed by v, in the batch's scratch buffer.
func (b *batch) with(v ...string) []string {
	b.scratch = append(append(b.scratch[:0], b.st.labels...), v...)
	return b.scratch
}

// ok classifies an NVML return: any failure, a call the GPU does not support
// (ERROR_NOT_SUPPORTED) included, costs the call's series and is counted and
// logged once; a lost GPU also marks the batch, which then serves up=0 alone.
func (b *batch) ok(call string, ret nvml.Return) bool {
	switch {
	case ret == nvml.SUCCESS:
		return true
	case b.lost:
		return false
	case isLost(ret):
		b.lost = true
	}
	b.c.countError(b.gpu, call, ret)
	return false
}

// NVML marks a value it cannot give with all bits set (NVML_VALUE_NOT_AVAILABLE,
// -1 in the field's unsigned type). No reading of the collector can really
// take that value (a 4 GHz·10⁶ clock, 4·10⁹ °C, 2⁶⁴ bytes), so in every field
// it means "not available": the series is absent and the call counted.
const (
	notAvailable32 = math.MaxUint32
	notAvailable64 = math.MaxUint64
)

// have32 reports whether a 32-bit reading is a value, counting it otherwise.
func (b *batch) have32(call string, v uint32) bool {
	if v == notAvailable32 {
		b.c.countReturn(b.gpu, call, retNotAvailable)
		return false
	}
	return true
}

// have64 is have32 for 64-bit readings.
func (b *batch) have64(call string, v uint64) bool {
	if v == notAvailable64 {
		b.c.countReturn(b.gpu, call, retNotAvailable)
		return false
	}
	return true
}

// haveInt is have32 for readings go-nvml converts from unsigned int to int:
// NVML's all-ones is 4294967295 there, and nothing valid is negative.
func (b *batch) haveInt(call string, v int) bool {
	if v < 0 || uint64(v) >= notAvailable32 {
		b.c.countReturn(b.gpu, call, retNotAvailable)
		return false
	}
	return true
}

// havePercent is have32 for percentages, which cannot exceed 100.
func (b *batch) havePercent(call string, v uint32) bool {
	if !b.have32(call, v) {
		return false
	}
	if v > 100 {
		b.c.countReturn(b.gpu, call, retOutOfRange)
		return false
	}
	return true
}

// add queues a metric; labels are the GPU's labels followed by the family's own.
func (b *batch) add(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels []string) {
	b.pending = append(b.pending, pendingMetric{desc, typ, v, b.st.labelPairs(desc, labels)})
}

// pairKey identifies one series of a GPU: its family and the values of the
// labels the family adds to the GPU's own (NVLink: link and counter).
type pairKey struct {
	desc  *prometheus.Desc
	extra [3]string
}

// labelPairs returns the sorted label pairs of a series, built once and kept
// until the GPU's own labels change: building them per scrape was most of the
// collector's allocations (720 NVLink series on 8 GPUs).
func (st *deviceState) labelPairs(desc *prometheus.Desc, values []string) []*dto.LabelPair {
	extra := values[len(st.labels):]
	if len(extra) > len(pairKey{}.extra) {
		return prometheus.MakeLabelPairs(desc, values) // llm_gpu_info: once per GPU and scrape
	}
	k := pairKey{desc: desc}
	copy(k.extra[:], extra)
	if p, ok := st.pairs[k]; ok {
		return p
	}
	p := prometheus.MakeLabelPairs(desc, values)
	st.pairs[k] = p
	return p
}

func (b *batch) has(symbol string) bool { return !b.c.missing[symbol] }

var clockEventReasons = []struct {
	bit  uint64
	name string
}{
	{nvml.ClocksEventReasonGpuIdle, "gpu_idle"},
	{nvml.ClocksEventReasonApplicationsClocksSetting, "applications_clocks_setting"},
	{nvml.ClocksEventReasonSwPowerCap, "sw_power_cap"},
	{0x8, "hw_slowdown"},
	{nvml.ClocksEventReasonSyncBoost, "sync_boost"},
	{nvml.ClocksEventReasonSwThermalSlowdown, "sw_thermal_slowdown"},
	{0x40, "hw_thermal_slowdown"},
	{0x80, "hw_power_brake_slowdown"},
	{nvml.ClocksEventReasonDisplayClockSetting, "display_clock_setting"},
}

var nvlinkCounters = []struct {
	counter nvml.NvLinkErrorCounter
	name    string
}{
	{nvml.NVLINK_ERROR_DL_REPLAY, "replay"},
	{nvml.NVLINK_ERROR_DL_RECOVERY, "recovery"},
	{nvml.NVLINK_ERROR_DL_CRC_FLIT, "crc_flit"},
	{nvml.NVLINK_ERROR_DL_CRC_DATA, "crc_data"},
}

func (c *Collector) readDevice(b *batch, dev nvml.Device, st *deviceState) {
	l := st.labels
	with := b.with
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue

	mig := ""
	if cur, _, ret := dev.GetMigMode(); b.ok("nvmlDeviceGetMigMode", ret) {
		mig = map[int]string{nvml.DEVICE_MIG_ENABLE: "enabled", nvml.DEVICE_MIG_DISABLE: "disabled"}[cur]
	}
	b.add(c.d.info, gauge, 1, with(st.name, st.busID, c.driver, c.cuda, mig))

	if u, ret := dev.GetUtilizationRates(); b.ok("nvmlDeviceGetUtilizationRates", ret) {
		if b.havePercent("nvmlDeviceGetUtilizationRates", u.Gpu) {
			b.add(c.d.utilization, gauge, float64(u.Gpu)/100, l)
		}
		if b.havePercent("nvmlDeviceGetUtilizationRates", u.Memory) {
			b.add(c.d.memUtilization, gauge, float64(u.Memory)/100, l)
		}
	}
	if b.has("nvmlDeviceGetMemoryInfo_v2") {
		const call = "nvmlDeviceGetMemoryInfo_v2"
		if m, ret := dev.GetMemoryInfo_v2(); b.ok(call, ret) {
			if b.have64(call, m.Used) {
				b.add(c.d.memUsed, gauge, float64(m.Used), l)
			}
			if b.have64(call, m.Total) {
				b.add(c.d.memTotal, gauge, float64(m.Total), l)
			}
			if b.have64(call, m.Reserved) {
				b.add(c.d.memReserved, gauge, float64(m.Reserved), l)
			}
		}
	} else if m, ret := dev.GetMemoryInfo(); b.ok("nvmlDeviceGetMemoryInfo", ret) {
		if b.have64("nvmlDeviceGetMemoryInfo", m.Used) {
			b.add(c.d.memUsed, gauge, float64(m.Used), l)
		}
		if b.have64("nvmlDeviceGetMemoryInfo", m.Total) {
			b.add(c.d.memTotal, gauge, float64(m.Total), l)
		}
	}
	if procs, ret := dev.GetComputeRunningProcesses(); b.ok("nvmlDeviceGetComputeRunningProcesses", ret) {
		// One process whose memory NVML cannot tell makes the sum unknown.
		var used uint64
		known := true
		for _, p := range procs {
			if known = b.have64("nvmlDeviceGetComputeRunningProcesses", p.UsedGpuMemory); !known {
				break
			}
			used += p.UsedGpuMemory
		}
		if known {
			b.add(c.d.engineMemory, gauge, float64(used), l)
		}
	}
	if p, ret := dev.GetPowerUsage(); b.ok("nvmlDeviceGetPowerUsage", ret) && b.have32("nvmlDeviceGetPowerUsage", p) {
		b.add(c.d.power, gauge, float64(p)/1000, l)
	}
	if p, ret := dev.GetEnforcedPowerLimit(); b.ok("nvmlDeviceGetEnforcedPowerLimit", ret) && b.have32("nvmlDeviceGetEnforcedPowerLimit", p) {
		b.add(c.d.powerLimit, gauge, float64(p)/1000, l)
	}
	if b.has("nvmlDeviceGetTotalEnergyConsumption") {
		const call = "nvmlDeviceGetTotalEnergyConsumption"
		if e, ret := dev.GetTotalEnergyConsumption(); b.ok(call, ret) && b.have64(call, e) {
			b.add(c.d.energy, counter, float64(e)/1000, l)
		}
	}
	if t, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU); b.ok("nvmlDeviceGetTemperature", ret) && b.have32("nvmlDeviceGetTemperature", t) {
		b.add(c.d.temperature, gauge, float64(t), with("gpu"))
	}
	if b.has("nvmlDeviceGetFieldValues") {
		const call = "nvmlDeviceGetFieldValues"
		values := []nvml.FieldValue{{FieldId: nvml.FI_DEV_MEMORY_TEMP}}
		if ret := dev.GetFieldValues(values); b.ok(call, ret) && b.ok(call, nvml.Return(values[0].NvmlReturn)) {
			if v, ok := fieldValue(values[0]); ok {
				b.add(c.d.temperature, gauge, v, with("memory"))
			} else {
				b.c.countReturn(b.gpu, call, retNotAvailable)
			}
		}
	}
	if mhz, ret := dev.GetClockInfo(nvml.CLOCK_SM); b.ok("nvmlDeviceGetClockInfo", ret) && b.have32("nvmlDeviceGetClockInfo", mhz) {
		b.add(c.d.smClock, gauge, float64(mhz)*1e6, l)
	}
	if mhz, ret := dev.GetClockInfo(nvml.CLOCK_MEM); b.ok("nvmlDeviceGetClockInfo", ret) && b.have32("nvmlDeviceGetClockInfo", mhz) {
		b.add(c.d.memClock, gauge, float64(mhz)*1e6, l)
	}
	if b.has("nvmlDeviceGetCurrentClocksEventReasons") {
		const call = "nvmlDeviceGetCurrentClocksEventReasons"
		if mask, ret := dev.GetCurrentClocksEventReasons(); b.ok(call, ret) && b.have64(call, mask) {
			for _, r := range clockEventReasons {
				v := 0.0
				if mask&r.bit != 0 {
					v = 1
				}
				b.add(c.d.clockEvent, gauge, v, with(r.name))
			}
		}
	}
	if n, ret := dev.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.AGGREGATE_ECC); b.ok("nvmlDeviceGetTotalEccErrors", ret) && b.have64("nvmlDeviceGetTotalEccErrors", n) {
		b.add(c.d.ecc, counter, float64(n), with("corrected"))
	}
	if n, ret := dev.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.AGGREGATE_ECC); b.ok("nvmlDeviceGetTotalEccErrors", ret) && b.have64("nvmlDeviceGetTotalEccErrors", n) {
		b.add(c.d.ecc, counter, float64(n), with("uncorrected"))
	}
	if b.has("nvmlDeviceGetRemappedRows") {
		const call = "nvmlDeviceGetRemappedRows"
		if corr, unc, pending, failed, ret := dev.GetRemappedRows(); b.ok(call, ret) {
			if b.haveInt(call, corr) {
				b.add(c.d.remapped, gauge, float64(corr), with("correctable"))
			}
			if b.haveInt(call, unc) {
				b.add(c.d.remapped, gauge, float64(unc), with("uncorrectable"))
			}
			b.add(c.d.remapPending, gauge, boolValue(pending), l)
			b.add(c.d.remapFailure, gauge, boolValue(failed), l)
		}
	}
	if b.has("nvmlDeviceGetPcieReplayCounter") {
		const call = "nvmlDeviceGetPcieReplayCounter"
		if n, ret := dev.GetPcieReplayCounter(); b.ok(call, ret) && b.haveInt(call, n) {
			b.add(c.d.pcieReplay, counter, float64(n), l)
		}
	}
	if g, ret := dev.GetCurrPcieLinkGeneration(); b.ok("nvmlDeviceGetCurrPcieLinkGeneration", ret) && b.haveInt("nvmlDeviceGetCurrPcieLinkGeneration", g) {
		b.add(c.d.pcieGen, gauge, float64(g), l)
	}
	if w, ret := dev.GetCurrPcieLinkWidth(); b.ok("nvmlDeviceGetCurrPcieLinkWidth", ret) && b.haveInt("nvmlDeviceGetCurrPcieLinkWidth", w) {
		b.add(c.d.pcieWidth, gauge, float64(w), l)
	}
	if c.cfg.PCIeThroughput {
		const call = "nvmlDeviceGetPcieThroughput"
		if kb, ret := dev.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES); b.ok(call, ret) && b.have32(call, kb) {
			b.add(c.d.pcieBytes, gauge, float64(kb)*1024, with("tx"))
		}
		if kb, ret := dev.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES); b.ok(call, ret) && b.have32(call, kb) {
			b.add(c.d.pcieBytes, gauge, float64(kb)*1024, with("rx"))
		}
	}
	if b.has("nvmlDeviceGetNvLinkState") {
		c.readNvLinks(b, dev, with)
	}
}

// readNvLinks walks the links until the driver says there are no more.
func (c *Collector) readNvLinks(b *batch, dev nvml.Device, with func(...string) []string) {
	for link := 0; link < nvml.NVLINK_MAX_LINKS && !b.lost; link++ {
		state, ret := dev.GetNvLinkState(link)
		if ret == nvml.ERROR_INVALID_ARGUMENT || (ret == nvml.ERROR_NOT_SUPPORTED && link > 0) {
			return // past the last link
		}
		if !b.ok("nvmlDeviceGetNvLinkState", ret) {
			continue
		}
		id := strconv.Itoa(link)
		b.add(c.d.nvlinkState, prometheus.GaugeValue, boolValue(state == nvml.FEATURE_ENABLED), with(id))
		if !b.has("nvmlDeviceGetNvLinkErrorCounter") {
			continue
		}
		for _, ctr := range nvlinkCounters {
			if n, ret := dev.GetNvLinkErrorCounter(link, ctr.counter); b.ok("nvmlDeviceGetNvLinkErrorCounter", ret) && b.have64("nvmlDeviceGetNvLinkErrorCounter", n) {
				b.add(c.d.nvlinkErrors, prometheus.CounterValue, float64(n), with(id, ctr.name))
			}
		}
	}
}

// fieldValue decodes NVML's value union according to its type; false for an
// unknown type, NVML_VALUE_NOT_AVAILABLE (all bits set, -1 when signed) and
// a double that is not a number.
func fieldValue(f nvml.FieldValue) (float64, bool) {
	v := f.Value[:]
	switch nvml.ValueType(f.ValueType) {
	case nvml.VALUE_TYPE_DOUBLE:
		d := math.Float64frombits(binary.LittleEndian.Uint64(v))
		return d, !math.IsNaN(d) && !math.IsInf(d, 0)
	case nvml.VALUE_TYPE_UNSIGNED_INT:
		u := binary.LittleEndian.Uint32(v)
		return float64(u), u != notAvailable32
	case nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_UNSIGNED_LONG_LONG:
		u := binary.LittleEndian.Uint64(v)
		return float64(u), u != notAvailable64
	case nvml.VALUE_TYPE_SIGNED_LONG_LONG:
		i := int64(binary.LittleEndian.Uint64(v))
		return float64(i), i != nvml.VALUE_NOT_AVAILABLE
	case nvml.VALUE_TYPE_SIGNED_INT:
		i := int32(binary.LittleEndian.Uint32(v))
		return float64(i), i != nvml.VALUE_NOT_AVAILABLE
	}
	return 0, false
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

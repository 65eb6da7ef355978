package infiniband

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

const fixture = "../../testdata/sys"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// adapter exposes a Collector as a prometheus.Collector, as collector.Set does.
type adapter struct{ c collector.Collector }

func (a adapter) Describe(chan<- *prometheus.Desc) {}
func (a adapter) Collect(ch chan<- prometheus.Metric) {
	if err := a.c.Update(ch); err != nil && !errors.Is(err, collector.ErrNoData) {
		panic(err)
	}
}

func newFixtureCollector(t *testing.T, sysfs string, cfg Config) *Collector {
	t.Helper()
	return New(collector.Paths{Sysfs: sysfs}, cfg, quiet)
}

func gather(t *testing.T, c collector.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(adapter{c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// series indexes gathered samples by "name{device,port}" for assertions.
func series(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var device, port, reason string
			for _, l := range m.Label {
				switch l.GetName() {
				case "device":
					device = l.GetValue()
				case "port":
					port = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			key := mf.GetName() + "{" + device + "," + port
			if reason != "" {
				key += "," + reason
			}
			key += "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func TestPortStateRateAndInfo(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{DeviceInclude: regexp.MustCompile(`^mlx5_[389]$`)})
	expected := `
# HELP llm_infiniband_state_id Logical state of the port (1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE, 5 ACTIVE_DEFER).
# TYPE llm_infiniband_state_id gauge
llm_infiniband_state_id{device="mlx5_3",link_layer="InfiniBand",port="1"} 1
llm_infiniband_state_id{device="mlx5_8",link_layer="Ethernet",port="1"} 4
llm_infiniband_state_id{device="mlx5_9",link_layer="Ethernet",port="1"} 4
# HELP llm_infiniband_physical_state_id Physical state of the port (1 Sleep, 2 Polling, 3 Disabled, 4 PortConfigurationTraining, 5 LinkUp, 6 LinkErrorRecovery, 7 PhyTest).
# TYPE llm_infiniband_physical_state_id gauge
llm_infiniband_physical_state_id{device="mlx5_3",link_layer="InfiniBand",port="1"} 3
llm_infiniband_physical_state_id{device="mlx5_8",link_layer="Ethernet",port="1"} 5
llm_infiniband_physical_state_id{device="mlx5_9",link_layer="Ethernet",port="1"} 5
# HELP llm_infiniband_rate_bytes_per_second Current signalling rate of the port in bytes per second.
# TYPE llm_infiniband_rate_bytes_per_second gauge
llm_infiniband_rate_bytes_per_second{device="mlx5_3",link_layer="InfiniBand",port="1"} 1.25e+09
llm_infiniband_rate_bytes_per_second{device="mlx5_8",link_layer="Ethernet",port="1"} 2.5e+10
llm_infiniband_rate_bytes_per_second{device="mlx5_9",link_layer="Ethernet",port="1"} 2.5e+10
# HELP llm_infiniband_info Static facts about the port and its HCA; value is always 1.
# TYPE llm_infiniband_info gauge
llm_infiniband_info{board_id="MT_0000000838",device="mlx5_3",firmware_version="28.39.1002",hca_type="MT4129",link_layer="InfiniBand",netdev="ibp5cs0",node_guid="a088:c203:0003:1e30",pci_address="0000:5c:00.0",port="1"} 1
llm_infiniband_info{board_id="MT_0000000838",device="mlx5_8",firmware_version="28.39.1002",hca_type="MT4129",link_layer="Ethernet",netdev="ens12f0np0",node_guid="a088:c203:0008:1e80",pci_address="0000:a1:00.0",port="1"} 1
llm_infiniband_info{board_id="MT_0000000838",device="mlx5_9",firmware_version="28.39.1002",hca_type="MT4129",link_layer="Ethernet",netdev="ens12f1np1",node_guid="a088:c203:0009:1e90",pci_address="0000:a1:00.1",port="1"} 1
`
	err := testutil.CollectAndCompare(adapter{c}, strings.NewReader(expected),
		"llm_infiniband_state_id", "llm_infiniband_physical_state_id", "llm_infiniband_rate_bytes_per_second", "llm_infiniband_info")
	if err != nil {
		t.Fatal(err)
	}
}

// everyCounterFile is, for three ports of the fixture (testdata/make-sysfs.sh:
// an InfiniBand CX-7 with counters_ext/, one without it, a RoCE port with the
// congestion hw_counters), each counter file the collector knows, the family
// it must feed (docs/metrics.md), the file's value and the factor into base
// units, written out by hand from the fixture files. served is false for a
// counters/ file that counters_ext/ shadows.
var everyCounterFile = []struct {
	device, file, metric string
	raw                  uint64
	scale                float64
	served               bool
}{
	{"mlx5_0", "counters_ext/port_multicast_rcv_packets", "multicast_packets_received_total", 4567989927, 1, true},
	{"mlx5_0", "counters_ext/port_multicast_xmit_packets", "multicast_packets_transmitted_total", 4567894061, 1, true},
	{"mlx5_0", "counters_ext/port_rcv_data_64", "port_data_received_bytes_total", 912346192987, 4, true},
	{"mlx5_0", "counters_ext/port_rcv_packets_64", "port_packets_received_total", 4567911390, 1, true},
	{"mlx5_0", "counters_ext/port_unicast_rcv_packets", "unicast_packets_received_total", 4567891159, 1, true},
	{"mlx5_0", "counters_ext/port_unicast_xmit_packets", "unicast_packets_transmitted_total", 4567930941, 1, true},
	{"mlx5_0", "counters_ext/port_xmit_data_64", "port_data_transmitted_bytes_total", 912346604069, 4, true},
	{"mlx5_0", "counters_ext/port_xmit_packets_64", "port_packets_transmitted_total", 4567951086, 1, true},
	{"mlx5_0", "counters/VL15_dropped", "vl15_dropped_total", 22, 1, true},
	{"mlx5_0", "counters/excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", 10, 1, true},
	{"mlx5_0", "counters/link_downed", "link_downed_total", 19, 1, true},
	{"mlx5_0", "counters/link_error_recovery", "link_error_recovery_total", 18, 1, true},
	{"mlx5_0", "counters/local_link_integrity_errors", "local_link_integrity_errors_total", 14, 1, true},
	{"mlx5_0", "counters/multicast_rcv_packets", "multicast_packets_received_total", 4567928365, 1, false},     // shadowed by counters_ext/
	{"mlx5_0", "counters/multicast_xmit_packets", "multicast_packets_transmitted_total", 4567951405, 1, false}, // shadowed by counters_ext/
	{"mlx5_0", "counters/port_rcv_constraint_errors", "port_constraint_errors_received_total", 7, 1, true},
	{"mlx5_0", "counters/port_rcv_data", "port_data_received_bytes_total", 912345904716, 4, false}, // shadowed by counters_ext/
	{"mlx5_0", "counters/port_rcv_discards", "port_discards_received_total", 20, 1, true},
	{"mlx5_0", "counters/port_rcv_errors", "port_errors_received_total", 16, 1, true},
	{"mlx5_0", "counters/port_rcv_packets", "port_packets_received_total", 4567908583, 1, false}, // shadowed by counters_ext/
	{"mlx5_0", "counters/port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", 3, 1, true},
	{"mlx5_0", "counters/port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", 13, 1, true},
	{"mlx5_0", "counters/port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", 3, 1, true},
	{"mlx5_0", "counters/port_xmit_data", "port_data_transmitted_bytes_total", 912346654010, 4, false}, // shadowed by counters_ext/
	{"mlx5_0", "counters/port_xmit_discards", "port_discards_transmitted_total", 17, 1, true},
	{"mlx5_0", "counters/port_xmit_packets", "port_packets_transmitted_total", 4567898700, 1, false}, // shadowed by counters_ext/
	{"mlx5_0", "counters/port_xmit_wait", "port_transmit_wait_total", 12346600, 1, true},
	{"mlx5_0", "counters/symbol_error", "symbol_error_total", 22, 1, true},
	{"mlx5_0", "counters/unicast_rcv_packets", "unicast_packets_received_total", 4567969929, 1, false},     // shadowed by counters_ext/
	{"mlx5_0", "counters/unicast_xmit_packets", "unicast_packets_transmitted_total", 4567965677, 1, false}, // shadowed by counters_ext/
	{"mlx5_0", "hw_counters/duplicate_request", "duplicate_requests_packets_total", 9, 1, true},
	{"mlx5_0", "hw_counters/implied_nak_seq_err", "implied_nak_seq_errors_total", 7, 1, true},
	{"mlx5_0", "hw_counters/local_ack_timeout_err", "local_ack_timeout_errors_total", 11, 1, true},
	{"mlx5_0", "hw_counters/out_of_buffer", "out_of_buffer_drops_total", 0, 1, true},
	{"mlx5_0", "hw_counters/out_of_sequence", "out_of_sequence_packets_received_total", 9, 1, true},
	{"mlx5_0", "hw_counters/packet_seq_err", "packet_sequence_errors_total", 2, 1, true},
	{"mlx5_0", "hw_counters/req_cqe_error", "req_cqes_errors_total", 2, 1, true},
	{"mlx5_0", "hw_counters/req_cqe_flush_error", "req_cqes_flush_errors_total", 6, 1, true},
	{"mlx5_0", "hw_counters/req_remote_access_errors", "req_remote_access_errors_total", 17, 1, true},
	{"mlx5_0", "hw_counters/req_remote_invalid_request", "req_remote_invalid_request_errors_total", 9, 1, true},
	{"mlx5_0", "hw_counters/resp_cqe_error", "resp_cqes_errors_total", 22, 1, true},
	{"mlx5_0", "hw_counters/resp_cqe_flush_error", "resp_cqes_flush_errors_total", 21, 1, true},
	{"mlx5_0", "hw_counters/resp_local_length_error", "resp_local_length_errors_total", 11, 1, true},
	{"mlx5_0", "hw_counters/resp_remote_access_errors", "resp_remote_access_errors_total", 20, 1, true},
	{"mlx5_0", "hw_counters/rnr_nak_retry_err", "rnr_nak_retry_packets_received_total", 13, 1, true},
	{"mlx5_0", "hw_counters/rx_atomic_requests", "rx_atomic_requests_total", 4567981191, 1, true},
	{"mlx5_0", "hw_counters/rx_dct_connect", "rx_dct_connect_requests_total", 15, 1, true},
	{"mlx5_0", "hw_counters/rx_read_requests", "rx_read_requests_total", 4567949052, 1, true},
	{"mlx5_0", "hw_counters/rx_write_requests", "rx_write_requests_total", 4567926461, 1, true},
	{"mlx5_7", "counters/VL15_dropped", "vl15_dropped_total", 2, 1, true},
	{"mlx5_7", "counters/excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", 14, 1, true},
	{"mlx5_7", "counters/link_downed", "link_downed_total", 22, 1, true},
	{"mlx5_7", "counters/link_error_recovery", "link_error_recovery_total", 21, 1, true},
	{"mlx5_7", "counters/local_link_integrity_errors", "local_link_integrity_errors_total", 3, 1, true},
	{"mlx5_7", "counters/multicast_rcv_packets", "multicast_packets_received_total", 36543159226, 1, true},
	{"mlx5_7", "counters/multicast_xmit_packets", "multicast_packets_transmitted_total", 36543182266, 1, true},
	{"mlx5_7", "counters/port_rcv_constraint_errors", "port_constraint_errors_received_total", 10, 1, true},
	{"mlx5_7", "counters/port_rcv_data", "port_data_received_bytes_total", 7298765657023, 4, true},
	{"mlx5_7", "counters/port_rcv_discards", "port_discards_received_total", 0, 1, true},
	{"mlx5_7", "counters/port_rcv_errors", "port_errors_received_total", 19, 1, true},
	{"mlx5_7", "counters/port_rcv_packets", "port_packets_received_total", 36543139444, 1, true},
	{"mlx5_7", "counters/port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", 6, 1, true},
	{"mlx5_7", "counters/port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", 16, 1, true},
	{"mlx5_7", "counters/port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", 6, 1, true},
	{"mlx5_7", "counters/port_xmit_data", "port_data_transmitted_bytes_total", 7298766406317, 4, true},
	{"mlx5_7", "counters/port_xmit_discards", "port_discards_transmitted_total", 20, 1, true},
	{"mlx5_7", "counters/port_xmit_packets", "port_packets_transmitted_total", 36543129561, 1, true},
	{"mlx5_7", "counters/port_xmit_wait", "port_transmit_wait_total", 98766346, 1, true},
	{"mlx5_7", "counters/symbol_error", "symbol_error_total", 2, 1, true},
	{"mlx5_7", "counters/unicast_rcv_packets", "unicast_packets_received_total", 36543200790, 1, true},
	{"mlx5_7", "counters/unicast_xmit_packets", "unicast_packets_transmitted_total", 36543196538, 1, true},
	{"mlx5_7", "hw_counters/duplicate_request", "duplicate_requests_packets_total", 12, 1, true},
	{"mlx5_7", "hw_counters/implied_nak_seq_err", "implied_nak_seq_errors_total", 10, 1, true},
	{"mlx5_7", "hw_counters/local_ack_timeout_err", "local_ack_timeout_errors_total", 14, 1, true},
	{"mlx5_7", "hw_counters/out_of_buffer", "out_of_buffer_drops_total", 3, 1, true},
	{"mlx5_7", "hw_counters/out_of_sequence", "out_of_sequence_packets_received_total", 12, 1, true},
	{"mlx5_7", "hw_counters/packet_seq_err", "packet_sequence_errors_total", 5, 1, true},
	{"mlx5_7", "hw_counters/req_cqe_error", "req_cqes_errors_total", 5, 1, true},
	{"mlx5_7", "hw_counters/req_cqe_flush_error", "req_cqes_flush_errors_total", 9, 1, true},
	{"mlx5_7", "hw_counters/req_remote_access_errors", "req_remote_access_errors_total", 20, 1, true},
	{"mlx5_7", "hw_counters/req_remote_invalid_request", "req_remote_invalid_request_errors_total", 12, 1, true},
	{"mlx5_7", "hw_counters/resp_cqe_error", "resp_cqes_errors_total", 2, 1, true},
	{"mlx5_7", "hw_counters/resp_cqe_flush_error", "resp_cqes_flush_errors_total", 1, 1, true},
	{"mlx5_7", "hw_counters/resp_local_length_error", "resp_local_length_errors_total", 14, 1, true},
	{"mlx5_7", "hw_counters/resp_remote_access_errors", "resp_remote_access_errors_total", 0, 1, true},
	{"mlx5_7", "hw_counters/rnr_nak_retry_err", "rnr_nak_retry_packets_received_total", 16, 1, true},
	{"mlx5_7", "hw_counters/rx_atomic_requests", "rx_atomic_requests_total", 36543212052, 1, true},
	{"mlx5_7", "hw_counters/rx_dct_connect", "rx_dct_connect_requests_total", 18, 1, true},
	{"mlx5_7", "hw_counters/rx_read_requests", "rx_read_requests_total", 36543179913, 1, true},
	{"mlx5_7", "hw_counters/rx_write_requests", "rx_write_requests_total", 36543157322, 1, true},
	{"mlx5_8", "counters/VL15_dropped", "vl15_dropped_total", 9, 1, true},
	{"mlx5_8", "counters/excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", 6, 1, true},
	{"mlx5_8", "counters/link_downed", "link_downed_total", 6, 1, true},
	{"mlx5_8", "counters/link_error_recovery", "link_error_recovery_total", 5, 1, true},
	{"mlx5_8", "counters/local_link_integrity_errors", "local_link_integrity_errors_total", 10, 1, true},
	{"mlx5_8", "counters/multicast_rcv_packets", "multicast_packets_received_total", 41111049349, 1, true},
	{"mlx5_8", "counters/multicast_xmit_packets", "multicast_packets_transmitted_total", 41111072389, 1, true},
	{"mlx5_8", "counters/port_rcv_constraint_errors", "port_constraint_errors_received_total", 17, 1, true},
	{"mlx5_8", "counters/port_rcv_data", "port_data_received_bytes_total", 8211111335924, 4, true},
	{"mlx5_8", "counters/port_rcv_discards", "port_discards_received_total", 7, 1, true},
	{"mlx5_8", "counters/port_rcv_errors", "port_errors_received_total", 3, 1, true},
	{"mlx5_8", "counters/port_rcv_packets", "port_packets_received_total", 41111029567, 1, true},
	{"mlx5_8", "counters/port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", 13, 1, true},
	{"mlx5_8", "counters/port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", 0, 1, true},
	{"mlx5_8", "counters/port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", 13, 1, true},
	{"mlx5_8", "counters/port_xmit_data", "port_data_transmitted_bytes_total", 8211112085218, 4, true},
	{"mlx5_8", "counters/port_xmit_discards", "port_discards_transmitted_total", 4, 1, true},
	{"mlx5_8", "counters/port_xmit_packets", "port_packets_transmitted_total", 41111019684, 1, true},
	{"mlx5_8", "counters/port_xmit_wait", "port_transmit_wait_total", 111112024, 1, true},
	{"mlx5_8", "counters/symbol_error", "symbol_error_total", 9, 1, true},
	{"mlx5_8", "counters/unicast_rcv_packets", "unicast_packets_received_total", 41111090913, 1, true},
	{"mlx5_8", "counters/unicast_xmit_packets", "unicast_packets_transmitted_total", 41111086661, 1, true},
	{"mlx5_8", "hw_counters/duplicate_request", "duplicate_requests_packets_total", 19, 1, true},
	{"mlx5_8", "hw_counters/implied_nak_seq_err", "implied_nak_seq_errors_total", 17, 1, true},
	{"mlx5_8", "hw_counters/local_ack_timeout_err", "local_ack_timeout_errors_total", 21, 1, true},
	{"mlx5_8", "hw_counters/np_cnp_sent", "np_cnp_packets_sent_total", 11, 1, true},
	{"mlx5_8", "hw_counters/np_ecn_marked_roce_packets", "np_ecn_marked_roce_packets_received_total", 41111022901, 1, true},
	{"mlx5_8", "hw_counters/out_of_buffer", "out_of_buffer_drops_total", 10, 1, true},
	{"mlx5_8", "hw_counters/out_of_sequence", "out_of_sequence_packets_received_total", 19, 1, true},
	{"mlx5_8", "hw_counters/packet_seq_err", "packet_sequence_errors_total", 12, 1, true},
	{"mlx5_8", "hw_counters/req_cqe_error", "req_cqes_errors_total", 12, 1, true},
	{"mlx5_8", "hw_counters/req_cqe_flush_error", "req_cqes_flush_errors_total", 16, 1, true},
	{"mlx5_8", "hw_counters/req_remote_access_errors", "req_remote_access_errors_total", 4, 1, true},
	{"mlx5_8", "hw_counters/req_remote_invalid_request", "req_remote_invalid_request_errors_total", 19, 1, true},
	{"mlx5_8", "hw_counters/req_rnr_retries_exceeded", "req_rnr_retries_exceeded_errors_total", 11, 1, true},
	{"mlx5_8", "hw_counters/req_transport_retries_exceeded", "req_transport_retries_exceeded_errors_total", 9, 1, true},
	{"mlx5_8", "hw_counters/resp_cqe_error", "resp_cqes_errors_total", 9, 1, true},
	{"mlx5_8", "hw_counters/resp_cqe_flush_error", "resp_cqes_flush_errors_total", 8, 1, true},
	{"mlx5_8", "hw_counters/resp_local_length_error", "resp_local_length_errors_total", 21, 1, true},
	{"mlx5_8", "hw_counters/resp_remote_access_errors", "resp_remote_access_errors_total", 7, 1, true},
	{"mlx5_8", "hw_counters/rnr_nak_retry_err", "rnr_nak_retry_packets_received_total", 0, 1, true},
	{"mlx5_8", "hw_counters/roce_adp_retrans", "roce_adp_retransmits_total", 13, 1, true},
	{"mlx5_8", "hw_counters/roce_adp_retrans_to", "roce_adp_retransmits_timeout_total", 0, 1, true},
	{"mlx5_8", "hw_counters/roce_slow_restart", "roce_slow_restart_used_total", 11, 1, true},
	{"mlx5_8", "hw_counters/roce_slow_restart_cnps", "roce_slow_restart_cnps_total", 11, 1, true},
	{"mlx5_8", "hw_counters/roce_slow_restart_trans", "roce_slow_restart_transitions_total", 17, 1, true},
	{"mlx5_8", "hw_counters/rp_cnp_handled", "rp_cnp_packets_handled_total", 17, 1, true},
	{"mlx5_8", "hw_counters/rp_cnp_ignored", "rp_cnp_ignored_packets_received_total", 0, 1, true},
	{"mlx5_8", "hw_counters/rx_atomic_requests", "rx_atomic_requests_total", 41111102175, 1, true},
	{"mlx5_8", "hw_counters/rx_dct_connect", "rx_dct_connect_requests_total", 2, 1, true},
	{"mlx5_8", "hw_counters/rx_icrc_encapsulated", "rx_icrc_encapsulated_errors_total", 17, 1, true},
	{"mlx5_8", "hw_counters/rx_read_requests", "rx_read_requests_total", 41111070036, 1, true},
	{"mlx5_8", "hw_counters/rx_write_requests", "rx_write_requests_total", 41111047445, 1, true},
}

// TestEveryCounterFile: each known counter file of those ports is exported
// once, in base units, from the expected file, and nothing else is exported
// under a counter family for them.
func TestEveryCounterFile(t *testing.T) {
	got := series(gather(t, newFixtureCollector(t, fixture, Config{})))
	want := map[string]float64{}
	for _, f := range everyCounterFile {
		key := "llm_infiniband_" + f.metric + "{" + f.device + ",1}"
		v := float64(f.raw) * f.scale
		if !f.served {
			if got[key] == v {
				t.Errorf("%s = %g: the value of %s, which counters_ext/ shadows", key, v, f.file)
			}
			continue
		}
		want[key] = v
		if g, ok := got[key]; !ok || g != v {
			t.Errorf("%s = %g (found %v), want %g from %s", key, g, ok, v, f.file)
		}
	}
	for key := range got {
		for _, dev := range []string{"{mlx5_0,1}", "{mlx5_7,1}", "{mlx5_8,1}"} {
			if strings.HasSuffix(key, dev) && strings.HasSuffix(strings.TrimSuffix(key, dev), "_total") &&
				!strings.HasPrefix(key, "llm_infiniband_read_errors_total") {
				if _, ok := want[key]; !ok {
					t.Errorf("%s exported from no file of the table", key)
				}
			}
		}
	}
}

// TestFixtureFaultsCostOnlyTheirValue: the EISDIR, N/A and garbage files of the
// fixture each lose one value and count one error; their ports keep the rest.
func TestFixtureFaultsCostOnlyTheirValue(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{})
	got := series(gather(t, c))
	for _, tc := range []struct{ missing, kept, errKey string }{
		{"llm_infiniband_port_errors_received_total{mlx5_5,1}", "llm_infiniband_symbol_error_total{mlx5_5,1}", "llm_infiniband_read_errors_total{mlx5_5,1,io_error}"},
		{"llm_infiniband_symbol_error_total{mlx5_6,1}", "llm_infiniband_port_errors_received_total{mlx5_6,1}", "llm_infiniband_read_errors_total{mlx5_6,1,not_available}"},
		{"llm_infiniband_out_of_sequence_packets_received_total{mlx5_9,1}", "llm_infiniband_np_cnp_packets_sent_total{mlx5_9,1}", "llm_infiniband_read_errors_total{mlx5_9,1,invalid_value}"},
	} {
		if _, ok := got[tc.missing]; ok {
			t.Errorf("%s exported from a broken file", tc.missing)
		}
		if _, ok := got[tc.kept]; !ok {
			t.Errorf("%s lost: a broken sibling file cost more than its own value", tc.kept)
		}
		if got[tc.errKey] != 1 {
			t.Errorf("%s = %g, want 1", tc.errKey, got[tc.errKey])
		}
	}
	// Errors are counters: a second scrape counts them again.
	got = series(gather(t, c))
	if v := got["llm_infiniband_read_errors_total{mlx5_5,1,io_error}"]; v != 2 {
		t.Errorf("read errors after two scrapes = %g, want 2", v)
	}
	// Exactly the three faults, nothing else.
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "llm_infiniband_read_errors_total") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d read_errors series, want 3", n)
	}
}

func TestLinkLayerOnEveryPortSeries(t *testing.T) {
	mfs := gather(t, newFixtureCollector(t, fixture, Config{}))
	ports := map[string]string{}
	for _, mf := range mfs {
		if mf.GetName() == "llm_infiniband_read_errors_total" || mf.GetName() == "llm_infiniband_stuck_reads" {
			continue
		}
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			ll, ok := labels["link_layer"]
			if !ok || (ll != "InfiniBand" && ll != "Ethernet") {
				t.Fatalf("%s%v: link_layer %q", mf.GetName(), labels, ll)
			}
			ports[labels["device"]+"/"+labels["port"]] = ll
		}
	}
	if len(ports) != 10 {
		t.Fatalf("ports = %v, want all 10 fixture ports", ports)
	}
	if ports["mlx5_8/1"] != "Ethernet" || ports["mlx5_0/1"] != "InfiniBand" {
		t.Errorf("link layers = %v", ports)
	}
}

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(adapter{newFixtureCollector(t, fixture, Config{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestDeviceFilters(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{
		DeviceInclude: regexp.MustCompile(`^mlx5_[0-3]$`),
		DeviceExclude: regexp.MustCompile(`^mlx5_2$`),
	})
	devices := map[string]bool{}
	for k := range series(gather(t, c)) {
		if strings.HasPrefix(k, "llm_infiniband_state_id{") {
			devices[strings.SplitN(strings.TrimPrefix(k, "llm_infiniband_state_id{"), ",", 2)[0]] = true
		}
	}
	if len(devices) != 3 || !devices["mlx5_0"] || !devices["mlx5_1"] || !devices["mlx5_3"] {
		t.Errorf("devices = %v, want mlx5_0, mlx5_1, mlx5_3", devices)
	}
}

func TestNoInfinibandClassIsNoData(t *testing.T) {
	c := newFixtureCollector(t, t.TempDir(), Config{})
	ch := make(chan prometheus.Metric, 10)
	if err := c.Update(ch); !errors.Is(err, collector.ErrNoData) {
		t.Fatalf("Update on a node without RDMA devices = %v, want ErrNoData", err)
	}
	if len(ch) != 0 {
		t.Errorf("%d metrics from a node without RDMA devices", len(ch))
	}
}

// faultReader wraps the real reader and fails or mutates chosen paths, to
// reproduce what a fixture file cannot: EINVAL from a ConnectX-7 in switch
// mode, or a port removed while it is being read.
type faultReader struct {
	sysReader
	readFault func(path string) error
}

func (f faultReader) ReadFile(path, buf []byte) (int, error) {
	if err := f.readFault(string(bytes.TrimRight(path, "\x00"))); err != nil {
		return 0, err
	}
	return f.sysReader.ReadFile(path, buf)
}

func TestEINVALCostsOnlyThatValue(t *testing.T) {
	r := faultReader{sysReader: newOSReader(), readFault: func(path string) error {
		if strings.HasSuffix(path, "mlx5_2/ports/1/counters/port_xmit_wait") {
			return syscall.EINVAL
		}
		return nil
	}}
	c := newWithReader(collector.Paths{Sysfs: fixture}, Config{}, quiet, r)
	got := series(gather(t, c))
	if _, ok := got["llm_infiniband_port_transmit_wait_total{mlx5_2,1}"]; ok {
		t.Error("value exported despite EINVAL")
	}
	if _, ok := got["llm_infiniband_port_data_received_bytes_total{mlx5_2,1}"]; !ok {
		t.Error("EINVAL on one counter cost the port's other counters")
	}
	if got["llm_infiniband_read_errors_total{mlx5_2,1,io_error}"] != 1 {
		t.Errorf("EINVAL not counted as io_error: %v", got["llm_infiniband_read_errors_total{mlx5_2,1,io_error}"])
	}
}

func TestPortVanishingMidScrape(t *testing.T) {
	sysfs := copyFixture(t)
	var once sync.Once
	portDir := filepath.Join(sysfs, "class/infiniband/mlx5_4/ports/1")
	target, err := filepath.EvalSymlinks(portDir)
	if err != nil {
		t.Fatal(err)
	}
	r := faultReader{sysReader: newOSReader(), readFault: func(path string) error {
		if strings.HasSuffix(path, "mlx5_4/ports/1/counters/port_xmit_wait") {
			once.Do(func() { os.RemoveAll(target) })
		}
		return nil
	}}
	c := newWithReader(collector.Paths{Sysfs: sysfs}, Config{}, quiet, r)
	got := series(gather(t, c))
	for k := range got {
		if strings.Contains(k, "{mlx5_4,1}") {
			t.Errorf("vanished port still exported: %s", k)
		}
	}
	if got["llm_infiniband_read_errors_total{mlx5_4,1,vanished}"] != 1 {
		t.Error("vanished port not counted")
	}
	if _, ok := got["llm_infiniband_port_data_received_bytes_total{mlx5_5,1}"]; !ok {
		t.Error("a vanished port cost the ports after it")
	}
	// The next scrape no longer sees the port at all and carries on.
	got = series(gather(t, c))
	if _, ok := got["llm_infiniband_state_id{mlx5_4,1}"]; ok {
		t.Error("removed port reappeared")
	}
}

func copyFixture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sys")
	if out, err := runCommand("cp", "-a", fixture, dst); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

type fakeAttributor struct{}

func (fakeAttributor) LabelNames() []string { return []string{"namespace", "pod", "dp_rank"} }
func (fakeAttributor) AppendPortLabels(dst []string, device, port string) []string {
	if device == "mlx5_1" {
		return append(dst, "llm", "sglang-decode-0", "1")
	}
	return append(dst, "", "", "")
}

func TestAttributionLabels(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{Attributor: fakeAttributor{}, DeviceInclude: regexp.MustCompile(`^mlx5_[01]$`)})
	expected := `
# HELP llm_infiniband_state_id Logical state of the port (1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE, 5 ACTIVE_DEFER).
# TYPE llm_infiniband_state_id gauge
llm_infiniband_state_id{device="mlx5_0",dp_rank="",link_layer="InfiniBand",namespace="",pod="",port="1"} 4
llm_infiniband_state_id{device="mlx5_1",dp_rank="1",link_layer="InfiniBand",namespace="llm",pod="sglang-decode-0",port="1"} 4
`
	if err := testutil.CollectAndCompare(adapter{c}, strings.NewReader(expected), "llm_infiniband_state_id"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(adapter{c}, "llm_infiniband_port_data_received_bytes_total"); n != 2 {
		t.Errorf("%d data series, want 2", n)
	}
}

// TestConcurrentScrapes: parallel scrapes (web.max-requests > 1) share the
// collector's caches; run with -race.
func TestConcurrentScrapes(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if n := len(series(gather(t, c))); n < 400 {
					t.Errorf("scrape returned %d series", n)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkUpdate(b *testing.B) {
	c := New(collector.Paths{Sysfs: fixture}, Config{}, quiet)
	ch := make(chan prometheus.Metric, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Update(ch); err != nil {
			b.Fatal(err)
		}
		for len(ch) > 0 {
			<-ch
		}
	}
}

// inoReader reports chosen inodes for port directories, standing in for sysfs
// giving a port removed and added again a new directory.
type inoReader struct {
	sysReader
	ino map[string]uint64 // "<device>/ports" → inode given to its entries
}

func (r inoReader) ReadDir(path []byte, names *nameList) error {
	if err := r.sysReader.ReadDir(path, names); err != nil {
		return err
	}
	p := string(bytes.TrimRight(path, "\x00"))
	for dir, ino := range r.ino {
		if strings.HasSuffix(p, dir) {
			for i := range names.inos {
				names.inos[i] = ino
			}
		}
	}
	return nil
}

// TestCounterSourceChosenOncePerPort: a failed read of the 64-bit counters_ext/
// file is an absent sample and a counted error, never the 32-bit counters/
// value of the same counter (two resets in every rate); the source is chosen
// again only when the port reappears.
func TestCounterSourceChosenOncePerPort(t *testing.T) {
	sysfs := copyFixture(t)
	const key = "llm_infiniband_port_data_transmitted_bytes_total{mlx5_0,1}"
	portDir, err := filepath.EvalSymlinks(filepath.Join(sysfs, "class/infiniband/mlx5_0/ports/1"))
	if err != nil {
		t.Fatal(err)
	}
	ext, legacy := 4*fileValue(t, portDir, "counters_ext/port_xmit_data_64"), 4*fileValue(t, portDir, "counters/port_xmit_data")
	if ext == legacy {
		t.Fatal("the fixture must give counters_ext/ and counters/ different values")
	}
	var failing bool
	r := faultReader{sysReader: newOSReader(), readFault: func(path string) error {
		if failing && strings.HasSuffix(path, "mlx5_0/ports/1/counters_ext/port_xmit_data_64") {
			return syscall.EIO
		}
		return nil
	}}
	inos := inoReader{sysReader: r, ino: map[string]uint64{}}
	c := newWithReader(collector.Paths{Sysfs: sysfs}, Config{}, quiet, inos)
	if v := series(gather(t, c))[key]; v != ext {
		t.Fatalf("%s = %v before any fault, want %v", key, v, ext)
	}
	failing = true
	got := series(gather(t, c))
	if v, ok := got[key]; ok {
		t.Errorf("%s = %v while its counters_ext/ file fails, want absent (counters/ holds %v)", key, v, legacy)
	}
	if got["llm_infiniband_read_errors_total{mlx5_0,1,io_error}"] != 1 {
		t.Errorf("the failed read was not counted: %v", got["llm_infiniband_read_errors_total{mlx5_0,1,io_error}"])
	}
	failing = false
	if v := series(gather(t, c))[key]; v != ext {
		t.Errorf("%s = %v once the file reads again, want %v", key, v, ext)
	}

	// counters_ext/ disappears: the port keeps its source (absent, counted)...
	if err := os.RemoveAll(filepath.Join(portDir, "counters_ext")); err != nil {
		t.Fatal(err)
	}
	got = series(gather(t, c))
	if v, ok := got[key]; ok {
		t.Errorf("%s = %v from counters/ while the port has not reappeared", key, v)
	}
	if got["llm_infiniband_read_errors_total{mlx5_0,1,vanished}"] < 1 {
		t.Errorf("the missing counters_ext/ file was not counted: %v", got["llm_infiniband_read_errors_total{mlx5_0,1,vanished}"])
	}
	// ...until the port reappears (a new port directory): then counters/ it is.
	inos.ino["mlx5_0/ports"] = 12345
	if v := series(gather(t, c))[key]; v != legacy {
		t.Errorf("%s = %v after the port reappeared without counters_ext/, want 4 × counters/port_xmit_data = %v", key, v, legacy)
	}
}

// fileValue reads a counter file of a fixture port.
func fileValue(t *testing.T, portDir, file string) float64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(portDir, file))
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseUint(raw)
	if err != nil {
		t.Fatal(err)
	}
	return float64(v)
}

// TestCounterDirectoryListingFails: a counter directory that cannot be listed
// when a port's sources are chosen withholds every counter it could feed (no
// 32-bit counters/ value first, 64-bit later); the choice is made again at the
// next scrape.
func TestCounterDirectoryListingFails(t *testing.T) {
	failing := true
	r := dirFaultReader{sysReader: newOSReader(), fault: func(path string) error {
		if failing && strings.HasSuffix(path, "mlx5_1/ports/1/counters_ext") {
			return syscall.EIO
		}
		return nil
	}}
	c := newWithReader(collector.Paths{Sysfs: fixture}, Config{}, quiet, r)
	got := series(gather(t, c))
	for _, k := range []string{"llm_infiniband_port_data_transmitted_bytes_total{mlx5_1,1}", "llm_infiniband_unicast_packets_received_total{mlx5_1,1}"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %v while counters_ext/ cannot be listed, want absent", k, v)
		}
	}
	if _, ok := got["llm_infiniband_symbol_error_total{mlx5_1,1}"]; !ok {
		t.Error("counters/-only counters were withheld too")
	}
	if got["llm_infiniband_read_errors_total{mlx5_1,1,io_error}"] != 1 {
		t.Error("the failed listing was not counted")
	}
	failing = false
	want := 4 * fileValue(t, filepath.Join(fixture, "class/infiniband/mlx5_1/ports/1"), "counters_ext/port_xmit_data_64")
	if v := series(gather(t, c))["llm_infiniband_port_data_transmitted_bytes_total{mlx5_1,1}"]; v != want {
		t.Errorf("after the listing works: %v, want 4 × counters_ext = %v", v, want)
	}
}

type dirFaultReader struct {
	sysReader
	fault func(path string) error
}

func (f dirFaultReader) ReadDir(path []byte, names *nameList) error {
	if err := f.fault(string(bytes.TrimRight(path, "\x00"))); err != nil {
		names.reset()
		return err
	}
	return f.sysReader.ReadDir(path, names)
}

// TestSaturatedCounters: PMA counters of fixed width sitting at their maximum
// (the fixture's mlx5_2: port_xmit_wait 2^32-1, port_xmit_discards 65535,
// link_downed 255) are served, with llm_infiniband_counter_saturated 1 beside
// them; no other counter of the fixture has that series.
func TestSaturatedCounters(t *testing.T) {
	mfs := gather(t, newFixtureCollector(t, fixture, Config{}))
	saturated := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "llm_infiniband_counter_saturated" {
			continue
		}
		for _, m := range mf.Metric {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			if l["link_layer"] != "InfiniBand" || l["port"] != "1" {
				t.Errorf("counter_saturated labels %v", l)
			}
			saturated[l["device"]+"/"+l["counter"]] = m.Gauge.GetValue()
		}
	}
	want := map[string]float64{
		"mlx5_2/port_transmit_wait_total":        1,
		"mlx5_2/port_discards_transmitted_total": 1,
		"mlx5_2/link_downed_total":               1,
	}
	if fmt.Sprint(saturated) != fmt.Sprint(want) {
		t.Errorf("counter_saturated = %v, want %v", saturated, want)
	}
	// The PMA counters are reset (perfquery -R): the series goes.
	sysfs := copyFixture(t)
	c := newFixtureCollector(t, sysfs, Config{})
	gather(t, c)
	port, _ := filepath.EvalSymlinks(filepath.Join(sysfs, "class/infiniband/mlx5_2/ports/1"))
	os.WriteFile(filepath.Join(port, "counters/port_xmit_wait"), []byte("0\n"), 0o644)
	for _, mf := range gather(t, c) {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if mf.GetName() == "llm_infiniband_counter_saturated" && l.GetValue() == "port_transmit_wait_total" {
					t.Error("port_xmit_wait still saturated after it was reset to 0")
				}
			}
		}
	}
	got := series(mfs)
	if v := got["llm_infiniband_port_transmit_wait_total{mlx5_2,1}"]; v != 4294967295 {
		t.Errorf("the saturated counter itself = %v, want its value 4294967295", v)
	}
}

// blockingReader blocks reads of one file until released, as a read of a
// counter blocks in the kernel while the HCA's firmware does not answer.
type blockingReader struct {
	sysReader
	suffix   string
	contains string // or every file whose path contains this
	release  chan struct{}
	reads    atomic.Int32 // reads of the blocking file started
}

func (b *blockingReader) ReadFile(path, buf []byte) (int, error) {
	p := string(bytes.TrimRight(path, "\x00"))
	if (b.suffix != "" && strings.HasSuffix(p, b.suffix)) || (b.contains != "" && strings.Contains(p, b.contains)) {
		b.reads.Add(1)
		<-b.release
	}
	return b.sysReader.ReadFile(path, buf)
}

// updateWithin runs Update, failing the test if it has not returned in d.
func updateWithin(t *testing.T, c *Collector, d time.Duration) map[string]float64 {
	t.Helper()
	done := make(chan map[string]float64, 1)
	go func() {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(adapter{c})
		mfs, err := reg.Gather()
		if err != nil {
			t.Error(err)
		}
		done <- series(mfs)
	}()
	select {
	case got := <-done:
		return got
	case <-time.After(d):
		t.Fatalf("a scrape did not return within %s", d)
		return nil
	}
}

// TestBlockingReadIsAbandoned: a counter read that blocks is abandoned after
// the read timeout; the port's other values and the other ports are served;
// the file is not read again while that read is blocked (counted as stuck),
// and is read again once it returns.
func TestBlockingReadIsAbandoned(t *testing.T) {
	r := &blockingReader{sysReader: newOSReader(), suffix: "mlx5_1/ports/1/counters/symbol_error", release: make(chan struct{})}
	c := newWithReader(collector.Paths{Sysfs: fixture}, Config{ReadTimeout: 500 * time.Millisecond}, quiet, r)
	const stuck = "llm_infiniband_symbol_error_total{mlx5_1,1}"
	baseline := series(gather(t, newFixtureCollector(t, fixture, Config{})))
	for scrape := 1; scrape <= 3; scrape++ {
		got := updateWithin(t, c, 30*time.Second)
		if v, ok := got[stuck]; ok {
			t.Errorf("scrape %d: %s = %v from a read that did not return", scrape, stuck, v)
		}
		// Every other value of the port, whatever its place in the port's
		// batch of counter reads relative to the stuck file.
		for k, v := range baseline {
			if k != stuck && strings.Contains(k, "{mlx5_1,1") && !strings.HasPrefix(k, "llm_infiniband_read_errors_total") && got[k] != v {
				t.Errorf("scrape %d: %s = %v, want %v", scrape, k, got[k], v)
			}
		}
		for _, k := range []string{"llm_infiniband_port_errors_received_total{mlx5_1,1}", "llm_infiniband_state_id{mlx5_1,1}", "llm_infiniband_symbol_error_total{mlx5_2,1}"} {
			if _, ok := got[k]; !ok {
				t.Errorf("scrape %d: %s lost to the blocked read", scrape, k)
			}
		}
		if v := got["llm_infiniband_read_errors_total{mlx5_1,1,timeout}"]; v != 1 {
			t.Errorf("scrape %d: timeouts counted %v, want 1 (the first scrape's)", scrape, v)
		}
		if v := got["llm_infiniband_read_errors_total{mlx5_1,1,stuck}"]; v != float64(scrape-1) {
			t.Errorf("scrape %d: skipped reads counted %v, want %d", scrape, v, scrape-1)
		}
		if v := got["llm_infiniband_stuck_reads{,}"]; v != 1 {
			t.Errorf("scrape %d: stuck_reads = %v, want 1", scrape, v)
		}
	}
	if n := r.reads.Load(); n != 1 {
		t.Errorf("%d reads of the blocked file started, want 1 (never a second while one is stuck)", n)
	}
	close(r.release) // the firmware answers again
	for deadline := time.Now().Add(30 * time.Second); c.guard.stuckReads() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the released read was never accounted for")
		}
	}
	got := updateWithin(t, c, 30*time.Second)
	if _, ok := got[stuck]; !ok {
		t.Errorf("%s still absent once its file reads again", stuck)
	}
	if v := got["llm_infiniband_stuck_reads{,}"]; v != 0 {
		t.Errorf("stuck_reads = %v after the read returned, want 0", v)
	}
}

// TestHungHCA: every counter read of one HCA blocks (its firmware hangs): the
// scrape still returns with every other device served, each blocked file is
// one stuck read, later scrapes read none of them, and all come back once the
// firmware answers.
func TestHungHCA(t *testing.T) {
	r := &blockingReader{sysReader: newOSReader(), contains: "mlx5_4/ports/1/counters", release: make(chan struct{})}
	c := newWithReader(collector.Paths{Sysfs: fixture}, Config{ReadTimeout: 500 * time.Millisecond}, quiet, r)
	baseline := series(gather(t, newFixtureCollector(t, fixture, Config{})))
	port := filepath.Join(fixture, "class/infiniband/mlx5_4/ports/1")
	ext, _ := os.ReadDir(filepath.Join(port, "counters_ext"))
	legacy, _ := os.ReadDir(filepath.Join(port, "counters"))
	// The port's counter files: the 8 of counters_ext/, and those of counters/
	// it does not shadow (the 22 files less 8).
	files := len(ext) + len(legacy) - 8
	for scrape := 1; scrape <= 2; scrape++ {
		got := updateWithin(t, c, 60*time.Second)
		for k, v := range baseline {
			if !strings.Contains(k, "{mlx5_4,1") && !strings.HasPrefix(k, "llm_infiniband_read_errors_total") && !strings.HasPrefix(k, "llm_infiniband_stuck_reads") && got[k] != v {
				t.Errorf("scrape %d: %s = %v, want %v: another HCA lost a value", scrape, k, got[k], v)
			}
		}
		if v := got["llm_infiniband_read_errors_total{mlx5_4,1,timeout}"]; v != float64(files) {
			t.Errorf("scrape %d: timeouts of the hung HCA = %v, want %d", scrape, v, files)
		}
		if _, ok := got["llm_infiniband_state_id{mlx5_4,1}"]; !ok {
			t.Errorf("scrape %d: the hung HCA's port state was lost", scrape)
		}
		if v := got["llm_infiniband_stuck_reads{,}"]; v != float64(files) {
			t.Errorf("scrape %d: stuck_reads = %v, want %d (one per blocked file)", scrape, v, files)
		}
	}
	if n := r.reads.Load(); n != int32(files) {
		t.Errorf("%d reads of blocked files started, want %d: one each", n, files)
	}
	close(r.release)
	for deadline := time.Now().Add(30 * time.Second); c.guard.stuckReads() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the released reads were never accounted for")
		}
	}
	got := updateWithin(t, c, 30*time.Second)
	for k, v := range baseline {
		if strings.Contains(k, "{mlx5_4,1}") && got[k] != v {
			t.Errorf("%s = %v once the firmware answers, want %v", k, got[k], v)
		}
	}
}

package infiniband

// counterMetric is one llm_infiniband_*_total family fed by sysfs counter files.
type counterMetric struct {
	name string // without the llm_infiniband_ prefix
	help string
}

// counterSource maps one file of counters/, counters_ext/ or hw_counters/ onto
// a metric, with the factor that converts it into base units.
type counterSource struct {
	file   string
	metric int // index into counterMetrics
	scale  float64
	// bits is the width of a PMA PortCounters field (the kernel's
	// drivers/infiniband/core/sysfs.c table): such counters saturate at
	// 2^bits-1 instead of wrapping. 0 for 64-bit and driver counters.
	bits uint8
}

// saturated reports whether raw, the file's value, is at its counter's maximum.
func (s counterSource) saturated(raw uint64) bool {
	return s.bits > 0 && raw == 1<<s.bits-1
}

// Names follow node_exporter's node_infiniband_* so that dashboards and rules
// port by changing the prefix. The 64-bit counters_ext/ files and the legacy
// counters/ files feed the same families: counters_ext/ wins where both exist.
var counterMetrics = []counterMetric{
	mDataRx:             {"port_data_received_bytes_total", "Data received on the port in bytes (the kernel counts 4-byte words)."},
	mDataTx:             {"port_data_transmitted_bytes_total", "Data transmitted on the port in bytes (the kernel counts 4-byte words)."},
	mPktRx:              {"port_packets_received_total", "Packets received on all VLs of the port, including errors."},
	mPktTx:              {"port_packets_transmitted_total", "Packets transmitted on all VLs of the port, including errors."},
	mUcastRx:            {"unicast_packets_received_total", "Unicast packets received, including errors."},
	mUcastTx:            {"unicast_packets_transmitted_total", "Unicast packets transmitted, including errors."},
	mMcastRx:            {"multicast_packets_received_total", "Multicast packets received, including errors."},
	mMcastTx:            {"multicast_packets_transmitted_total", "Multicast packets transmitted, including errors."},
	mExcessiveOverrun:   {"excessive_buffer_overrun_errors_total", "Times OverrunErrors consecutive flow-control update periods each had at least one overrun error."},
	mLinkDowned:         {"link_downed_total", "Times the link failed to recover from an error state and went down."},
	mLinkErrorRecovery:  {"link_error_recovery_total", "Times the link successfully recovered from an error state."},
	mLocalLinkIntegrity: {"local_link_integrity_errors_total", "Times the count of local physical errors exceeded the LocalPhyErrors threshold."},
	mRcvConstraint:      {"port_constraint_errors_received_total", "Packets received on the switch physical port that were discarded."},
	mXmitConstraint:     {"port_constraint_errors_transmitted_total", "Packets not transmitted from the switch physical port."},
	mRcvDiscards:        {"port_discards_received_total", "Inbound packets discarded because the port was down or congested."},
	mXmitDiscards:       {"port_discards_transmitted_total", "Outbound packets discarded because the port was down or congested."},
	mRcvErrors:          {"port_errors_received_total", "Packets containing an error received on the port."},
	mRcvRemotePhys:      {"port_receive_remote_physical_errors_total", "Packets marked with the EBP (End of Bad Packet) delimiter received on the port."},
	mRcvSwitchRelay:     {"port_receive_switch_relay_errors_total", "Packets that could not be forwarded by the switch."},
	mXmitWait:           {"port_transmit_wait_total", "Ticks during which the port had data to transmit but sent none (congestion back-pressure)."},
	mSymbolError:        {"symbol_error_total", "Minor link errors detected on one or more physical lanes."},
	mVL15Dropped:        {"vl15_dropped_total", "Incoming VL15 packets dropped for lack of resources."},

	mDuplicateRequest:      {"duplicate_requests_packets_total", "Duplicate requests received (requests already executed)."},
	mImpliedNakSeq:         {"implied_nak_seq_errors_total", "Times the requester saw an ACK with a PSN beyond the expected one for an RDMA read or response."},
	mLocalAckTimeout:       {"local_ack_timeout_errors_total", "Times a QP's ACK timer expired at the sender (retry limit not yet exceeded)."},
	mNpCnpSent:             {"np_cnp_packets_sent_total", "CNP packets sent by the notification point on seeing ECN-marked RoCEv2 packets."},
	mNpEcnMarked:           {"np_ecn_marked_roce_packets_received_total", "RoCEv2 packets received with ECN congestion-experienced marks."},
	mOutOfBuffer:           {"out_of_buffer_drops_total", "Packets dropped because no receive WQE was posted (receive queue out of buffer)."},
	mOutOfSequence:         {"out_of_sequence_packets_received_total", "Out-of-sequence packets received."},
	mPacketSeqErr:          {"packet_sequence_errors_total", "NAK sequence-error packets received (retry limit not exceeded)."},
	mReqCqeError:           {"req_cqes_errors_total", "Requester completions with errors."},
	mReqCqeFlush:           {"req_cqes_flush_errors_total", "Requester completions flushed with errors."},
	mReqRemoteAccess:       {"req_remote_access_errors_total", "Remote access errors detected by the requester."},
	mReqRemoteInvalid:      {"req_remote_invalid_request_errors_total", "Remote invalid-request errors detected by the requester."},
	mReqRnrRetriesExceeded: {"req_rnr_retries_exceeded_errors_total", "Requests that exceeded the RNR NAK retry limit."},
	mReqTransportRetries:   {"req_transport_retries_exceeded_errors_total", "Requests that exceeded the transport retry limit."},
	mRespCqeError:          {"resp_cqes_errors_total", "Responder completions with errors."},
	mRespCqeFlush:          {"resp_cqes_flush_errors_total", "Responder completions flushed with errors."},
	mRespLocalLength:       {"resp_local_length_errors_total", "Local length errors detected by the responder."},
	mRespRemoteAccess:      {"resp_remote_access_errors_total", "Remote access errors detected by the responder."},
	mRnrNakRetry:           {"rnr_nak_retry_packets_received_total", "RNR NAK packets received (retry limit not exceeded)."},
	mRoceAdpRetrans:        {"roce_adp_retransmits_total", "Adaptive retransmissions of RoCE traffic."},
	mRoceAdpRetransTo:      {"roce_adp_retransmits_timeout_total", "Times RoCE traffic timed out during adaptive retransmission."},
	mRoceSlowRestart:       {"roce_slow_restart_used_total", "Times RoCE slow restart was used."},
	mRoceSlowRestartCnps:   {"roce_slow_restart_cnps_total", "CNP packets generated by RoCE slow restart."},
	mRoceSlowRestartTrans:  {"roce_slow_restart_transitions_total", "Times RoCE slow restart changed state to slow restart."},
	mRpCnpHandled:          {"rp_cnp_packets_handled_total", "CNP packets handled by the reaction point to throttle its transmission rate."},
	mRpCnpIgnored:          {"rp_cnp_ignored_packets_received_total", "CNP packets received and ignored by the reaction point (ECN likely off on the adapter)."},
	mRxAtomicRequests:      {"rx_atomic_requests_total", "ATOMIC requests received."},
	mRxDctConnect:          {"rx_dct_connect_requests_total", "Connection requests received for DCTs."},
	mRxIcrcEncapsulated:    {"rx_icrc_encapsulated_errors_total", "RoCE packets received with ICRC errors."},
	mRxReadRequests:        {"rx_read_requests_total", "RDMA READ requests received."},
	mRxWriteRequests:       {"rx_write_requests_total", "RDMA WRITE requests received."},
}

const (
	mDataRx = iota
	mDataTx
	mPktRx
	mPktTx
	mUcastRx
	mUcastTx
	mMcastRx
	mMcastTx
	mExcessiveOverrun
	mLinkDowned
	mLinkErrorRecovery
	mLocalLinkIntegrity
	mRcvConstraint
	mXmitConstraint
	mRcvDiscards
	mXmitDiscards
	mRcvErrors
	mRcvRemotePhys
	mRcvSwitchRelay
	mXmitWait
	mSymbolError
	mVL15Dropped
	mDuplicateRequest
	mImpliedNakSeq
	mLocalAckTimeout
	mNpCnpSent
	mNpEcnMarked
	mOutOfBuffer
	mOutOfSequence
	mPacketSeqErr
	mReqCqeError
	mReqCqeFlush
	mReqRemoteAccess
	mReqRemoteInvalid
	mReqRnrRetriesExceeded
	mReqTransportRetries
	mRespCqeError
	mRespCqeFlush
	mRespLocalLength
	mRespRemoteAccess
	mRnrNakRetry
	mRoceAdpRetrans
	mRoceAdpRetransTo
	mRoceSlowRestart
	mRoceSlowRestartCnps
	mRoceSlowRestartTrans
	mRpCnpHandled
	mRpCnpIgnored
	mRxAtomicRequests
	mRxDctConnect
	mRxIcrcEncapsulated
	mRxReadRequests
	mRxWriteRequests
	numCounterMetrics
)

// dataScale converts the data counters, which count 4-byte words, into bytes.
const dataScale = 4

// Counter directories of a port, listed in this order when its sources are
// chosen: counters_ext/ first so its 64-bit values win over the legacy
// counters/ ones. The data and packet counters of counters/ are 32-bit PMA
// fields on HCAs without the extended-width capability (64-bit with it, as on
// mlx5: a 64-bit value passing 2^32-1 would show saturated for one scrape).
var counterDirs = []struct {
	dir     string
	sources map[string]counterSource
}{
	{"counters_ext", sourceTable([]counterSource{
		{"port_rcv_data_64", mDataRx, dataScale, 0},
		{"port_xmit_data_64", mDataTx, dataScale, 0},
		{"port_rcv_packets_64", mPktRx, 1, 0},
		{"port_xmit_packets_64", mPktTx, 1, 0},
		{"port_unicast_rcv_packets", mUcastRx, 1, 0},
		{"port_unicast_xmit_packets", mUcastTx, 1, 0},
		{"port_multicast_rcv_packets", mMcastRx, 1, 0},
		{"port_multicast_xmit_packets", mMcastTx, 1, 0},
	})},
	{"counters", sourceTable([]counterSource{
		{"port_rcv_data", mDataRx, dataScale, 32},
		{"port_xmit_data", mDataTx, dataScale, 32},
		{"port_rcv_packets", mPktRx, 1, 32},
		{"port_xmit_packets", mPktTx, 1, 32},
		{"unicast_rcv_packets", mUcastRx, 1, 0},
		{"unicast_xmit_packets", mUcastTx, 1, 0},
		{"multicast_rcv_packets", mMcastRx, 1, 0},
		{"multicast_xmit_packets", mMcastTx, 1, 0},
		{"excessive_buffer_overrun_errors", mExcessiveOverrun, 1, 4},
		{"link_downed", mLinkDowned, 1, 8},
		{"link_error_recovery", mLinkErrorRecovery, 1, 8},
		{"local_link_integrity_errors", mLocalLinkIntegrity, 1, 4},
		{"port_rcv_constraint_errors", mRcvConstraint, 1, 8},
		{"port_xmit_constraint_errors", mXmitConstraint, 1, 8},
		{"port_rcv_discards", mRcvDiscards, 1, 0},
		{"port_xmit_discards", mXmitDiscards, 1, 16},
		{"port_rcv_errors", mRcvErrors, 1, 16},
		{"port_rcv_remote_physical_errors", mRcvRemotePhys, 1, 16},
		{"port_rcv_switch_relay_errors", mRcvSwitchRelay, 1, 16},
		{"port_xmit_wait", mXmitWait, 1, 32},
		{"symbol_error", mSymbolError, 1, 16},
		{"VL15_dropped", mVL15Dropped, 1, 16},
	})},
	{"hw_counters", sourceTable([]counterSource{
		{"duplicate_request", mDuplicateRequest, 1, 0},
		{"implied_nak_seq_err", mImpliedNakSeq, 1, 0},
		{"local_ack_timeout_err", mLocalAckTimeout, 1, 0},
		{"np_cnp_sent", mNpCnpSent, 1, 0},
		{"np_ecn_marked_roce_packets", mNpEcnMarked, 1, 0},
		{"out_of_buffer", mOutOfBuffer, 1, 0},
		{"out_of_sequence", mOutOfSequence, 1, 0},
		{"packet_seq_err", mPacketSeqErr, 1, 0},
		{"req_cqe_error", mReqCqeError, 1, 0},
		{"req_cqe_flush_error", mReqCqeFlush, 1, 0},
		{"req_remote_access_errors", mReqRemoteAccess, 1, 0},
		{"req_remote_invalid_request", mReqRemoteInvalid, 1, 0},
		{"req_rnr_retries_exceeded", mReqRnrRetriesExceeded, 1, 0},
		{"req_transport_retries_exceeded", mReqTransportRetries, 1, 0},
		{"resp_cqe_error", mRespCqeError, 1, 0},
		{"resp_cqe_flush_error", mRespCqeFlush, 1, 0},
		{"resp_local_length_error", mRespLocalLength, 1, 0},
		{"resp_remote_access_errors", mRespRemoteAccess, 1, 0},
		{"rnr_nak_retry_err", mRnrNakRetry, 1, 0},
		{"roce_adp_retrans", mRoceAdpRetrans, 1, 0},
		{"roce_adp_retrans_to", mRoceAdpRetransTo, 1, 0},
		{"roce_slow_restart", mRoceSlowRestart, 1, 0},
		{"roce_slow_restart_cnps", mRoceSlowRestartCnps, 1, 0},
		{"roce_slow_restart_trans", mRoceSlowRestartTrans, 1, 0},
		{"rp_cnp_handled", mRpCnpHandled, 1, 0},
		{"rp_cnp_ignored", mRpCnpIgnored, 1, 0},
		{"rx_atomic_requests", mRxAtomicRequests, 1, 0},
		{"rx_dct_connect", mRxDctConnect, 1, 0},
		{"rx_icrc_encapsulated", mRxIcrcEncapsulated, 1, 0},
		{"rx_read_requests", mRxReadRequests, 1, 0},
		{"rx_write_requests", mRxWriteRequests, 1, 0},
	})},
}

func sourceTable(sources []counterSource) map[string]counterSource {
	m := make(map[string]counterSource, len(sources))
	for _, s := range sources {
		m[s.file] = s
	}
	return m
}

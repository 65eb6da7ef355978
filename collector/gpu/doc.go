// Package gpu will collect NVIDIA GPU metrics through NVML (go-nvml), joined
// to the pod and data-parallel rank that uses each GPU. Not built yet: the
// foundation release ships the InfiniBand collector only. See the project's
// issue tracker and docs/metrics.md for what exists today.
package gpu

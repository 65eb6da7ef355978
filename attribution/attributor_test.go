package attribution

import (
	"github.com/llm-node-exporter/llm-node-exporter/collector/engine"
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
	"github.com/llm-node-exporter/llm-node-exporter/collector/infiniband"
	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

// The adapters must keep satisfying the collectors' interfaces.
var (
	_ gpu.Attributor        = GPUAttributor{}
	_ infiniband.Attributor = PortAttributor{}
	_ engine.Attributor     = TargetAttributor{}
	_ PodLookup             = (*discovery.Pods)(nil)
	_ DeviceLookup          = (*discovery.ResourceSlices)(nil)
)

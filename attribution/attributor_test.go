package attribution

import (
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
	"github.com/llm-node-exporter/llm-node-exporter/collector/infiniband"
)

// The adapters must keep satisfying the collectors' interfaces.
var (
	_ gpu.Attributor        = GPUAttributor{}
	_ infiniband.Attributor = PortAttributor{}
)

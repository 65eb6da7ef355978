// Package discovery finds what the exporter reads, apart from reading it: the
// engine targets (--engine.target flags, Prometheus file_sd files, and the
// annotated pods of the node) for the engine collector, and, for the
// attribution cache, this node's pods by UID and the devices its DRA drivers
// publish in ResourceSlices.
//
// The Kubernetes side is a small client of its own (Client: in-cluster
// service account or kubeconfig, bearer token or client certificate) and one
// list+watch loop per resource (Pods, ResourceSlices), each restricted to the
// node by a field selector and needing only list and watch on its resource.
// A watch that breaks resumes from its last resourceVersion; while the API
// server is down the last good objects stay in use and Status counts the
// failures.
package discovery

/** cluster-manager: subnet IPAM, the peer registry, its stores, authentication, and the gRPC server. */
package io.wgcni.cluster;

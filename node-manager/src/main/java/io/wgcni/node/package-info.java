/**
 * node-manager: one per host. Joins the mesh through cluster-manager, runs the node's userspace WireGuard
 * interface and one tunnel per container (hub and spoke: container -> node -> node -> container), and serves
 * the CNI plugin.
 */
package io.wgcni.node;

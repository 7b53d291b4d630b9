/** The CNI plugin: a process per call that asks node-manager over its unix socket. */
package io.wgcni.cni;

/** kiln serve: boot scripts, artifacts, per-node metadata and status for bare-metal nodes. */
package dev.kiln.fleet;

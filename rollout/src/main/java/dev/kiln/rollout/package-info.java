/**
 * kiln rollout: moving a cluster's nodes from their current version to a new one by replacing them,
 * never by patching. A {@code Plan} (batches, blockers, estimate, a hash of the fleet state it saw),
 * the controller that runs inside kiln serve and journals every intent before acting, cluster safety
 * (etcd through its v3 JSON gateway, Kubernetes through fabric8) and the machine drivers that do the
 * replacing (a BMC power cycle into a network boot, or an EC2 terminate and launch).
 */
package dev.kiln.rollout;

/**
 * EC2 as a kind of machine for kiln rollout: {@link dev.kiln.rollout.ec2.Ec2Replacer} replaces the
 * instance of an inventory node (terminate, launch from the target AMI at the same private address
 * with the node's metadata as user data), {@link dev.kiln.rollout.ec2.AsgPool} moves an Auto Scaling
 * group's workers to a new launch template version, and {@link dev.kiln.rollout.ec2.AmiResolver}
 * turns the target version into a concrete AMI id at plan time.
 */
package dev.kiln.rollout.ec2;

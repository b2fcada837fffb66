package dev.kiln.rollout.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.autoscaling.model.InstanceRefreshStatus;
import software.amazon.awssdk.services.autoscaling.model.RefreshStrategy;
import software.amazon.awssdk.services.autoscaling.model.StartInstanceRefreshRequest;

/**
 * {@code --strategy instance-refresh}: moto has no StartInstanceRefresh, so this checks the request
 * kiln builds and how AWS's statuses map to kiln's, without an emulator.
 */
class AsgRefreshRequestTest {
    final AsgPool pool = new AsgPool(null, null, "cloud-workers", "eu-west-1");
    final AsgPool.TemplateVersion v7 = new AsgPool.TemplateVersion("lt-0abc", "workers", 7, "ami-0b");

    @Test
    void theBudgetBecomesMinHealthyPercentageWithAutoRollbackToTheConcreteVersion() {
        StartInstanceRefreshRequest r = pool.instanceRefreshRequest(25, v7, Duration.ofMinutes(5));
        assertThat(r.autoScalingGroupName()).isEqualTo("cloud-workers");
        assertThat(r.strategy()).isEqualTo(RefreshStrategy.ROLLING);
        assertThat(r.preferences().minHealthyPercentage()).isEqualTo(75);
        assertThat(r.preferences().autoRollback()).isTrue();
        assertThat(r.preferences().skipMatching()).isTrue();
        assertThat(r.preferences().instanceWarmup()).isEqualTo(300);
        assertThat(r.desiredConfiguration().launchTemplate().launchTemplateId()).isEqualTo("lt-0abc");
        assertThat(r.desiredConfiguration().launchTemplate().version()).isEqualTo("7");
        assertThat(pool.instanceRefreshRequest(100, v7, null).preferences().minHealthyPercentage())
                .isZero();
        assertThat(pool.instanceRefreshRequest(10, v7, null).preferences().instanceWarmup())
                .isNull();
    }

    @Test
    void aBudgetOutsideOneToHundredPercentIsRefused() {
        assertThatThrownBy(() -> pool.instanceRefreshRequest(0, v7, null)).hasMessageContaining("from 1 to 100, got 0");
        assertThatThrownBy(() -> pool.instanceRefreshRequest(101, v7, null)).hasMessageContaining("got 101");
    }

    @Test
    void everyStatusMapsToAKilnStateAndAnUnknownOneIsAnError() {
        assertThat(AsgPool.state(InstanceRefreshStatus.PENDING)).isEqualTo(AsgPool.RefreshState.RUNNING);
        assertThat(AsgPool.state(InstanceRefreshStatus.IN_PROGRESS)).isEqualTo(AsgPool.RefreshState.RUNNING);
        assertThat(AsgPool.state(InstanceRefreshStatus.BAKING)).isEqualTo(AsgPool.RefreshState.RUNNING);
        assertThat(AsgPool.state(InstanceRefreshStatus.SUCCESSFUL)).isEqualTo(AsgPool.RefreshState.DONE);
        assertThat(AsgPool.state(InstanceRefreshStatus.FAILED)).isEqualTo(AsgPool.RefreshState.FAILED);
        assertThat(AsgPool.state(InstanceRefreshStatus.ROLLBACK_FAILED)).isEqualTo(AsgPool.RefreshState.FAILED);
        assertThat(AsgPool.state(InstanceRefreshStatus.CANCELLING)).isEqualTo(AsgPool.RefreshState.CANCELLED);
        assertThat(AsgPool.state(InstanceRefreshStatus.CANCELLED)).isEqualTo(AsgPool.RefreshState.CANCELLED);
        assertThat(AsgPool.state(InstanceRefreshStatus.ROLLBACK_IN_PROGRESS))
                .isEqualTo(AsgPool.RefreshState.ROLLING_BACK);
        assertThat(AsgPool.state(InstanceRefreshStatus.ROLLBACK_SUCCESSFUL))
                .isEqualTo(AsgPool.RefreshState.ROLLED_BACK);
        assertThatThrownBy(() -> AsgPool.state(InstanceRefreshStatus.UNKNOWN_TO_SDK_VERSION))
                .isInstanceOf(IllegalArgumentException.class);
        // Every status of this SDK is mapped (a new one fails this test, not a rollout).
        for (InstanceRefreshStatus s : EnumSet.complementOf(EnumSet.of(InstanceRefreshStatus.UNKNOWN_TO_SDK_VERSION))) {
            assertThat(AsgPool.state(s)).isNotNull();
        }
    }
}

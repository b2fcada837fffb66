package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriverException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The fleet page in a real browser: Debian's headless Chromium, driven by its chromedriver through
 * Selenium, against a running kiln serve whose nodes report through POST /status with their own
 * tokens. Screenshots go to target/fleet-page*.png for a person to look at.
 */
@Tag("browser")
class FleetPageBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @TempDir
    Path tmp;

    FleetFixture fleet;
    ChromeDriver browser;

    @BeforeEach
    void start() throws Exception {
        for (Path p : List.of(CHROMIUM, CHROMEDRIVER)) {
            assertThat(Files.isExecutable(p))
                    .as(p
                            + " is missing: install the Debian packages chromium and chromium-driver"
                            + " (ci/install-deps.sh)")
                    .isTrue();
        }
        fleet = new FleetFixture(tmp.resolve("serve"), null);
        fleet.fleetInVariousStates();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        // Offline and hermetic: no first-run UI, no background fetches, a profile of its own.
        options.addArguments(
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--window-size=1500,1000",
                "--user-data-dir=" + Files.createDirectories(tmp.resolve("chromium-profile")));
        // The driver path is given, so Selenium Manager (which would try to download one) is not
        // asked.
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .withLogOutput(java.io.OutputStream.nullOutputStream())
                .build();
        browser = new ChromeDriver(service, options);
    }

    @AfterEach
    void stop() {
        try {
            if (browser != null) {
                browser.quit();
            }
        } finally {
            if (fleet != null) {
                fleet.close();
            }
        }
    }

    @Test
    void thePageShowsFailedAndDriftedNodesFirstAndFollowsReports() throws Exception {
        // Basic auth, as a person would type it at the browser's prompt: any user, the operator
        // token as password.
        browser.get("http://operator:" + fleet.server.operatorToken() + "@127.0.0.1:" + fleet.server.port() + "/ui");
        awaitTrue("four node rows", () -> rows().size() == 4);

        List<WebElement> rows = rows();
        assertThat(rows).extracting(r -> r.getAttribute("data-name")).containsExactly("m2", "w2", "w1", "m1");
        WebElement m2 = rows.get(0);
        assertThat(m2.getAttribute("data-state")).isEqualTo("failed");
        assertThat(m2.findElement(By.cssSelector(".badge")).getText()).isEqualTo("failed");
        // The node's own words, shown as text: its markup is not the page's.
        assertThat(m2.findElement(By.cssSelector(".reason")).getText())
                .isEqualTo("etcd join failed: <b>connection refused</b>");
        assertThat(m2.findElements(By.tagName("b"))).isEmpty();

        WebElement w2 = rows.get(1);
        assertThat(w2.getAttribute("data-state")).isEqualTo("drifted");
        assertThat(w2.getAttribute("data-drifted")).isEqualTo("true");
        assertThat(w2.findElement(By.cssSelector(".badge")).getText()).isEqualTo("drifted");
        assertThat(w2.findElement(By.cssSelector("td.desired")).getText()).isEqualTo("debian-node:1.0.1");
        WebElement reported = w2.findElement(By.cssSelector("td.reported"));
        assertThat(reported.getText()).isEqualTo("debian-node:1.0.0");
        assertThat(reported.getAttribute("class")).contains("differs");
        assertThat(w2.findElement(By.cssSelector(".drift-note")).getText())
                .isEqualTo("drift: runs debian-node:1.0.0, inventory wants debian-node:1.0.1");

        WebElement m1 = rows.get(3);
        assertThat(m1.getAttribute("data-state")).isEqualTo("ready");
        assertThat(m1.findElement(By.cssSelector("td.kernel")).getText()).isEqualTo("6.1.0-test");
        assertThat(m1.findElement(By.cssSelector("td.current")).getText()).isEqualTo("debian-node:1.0.0");
        assertThat(m1.findElement(By.cssSelector("td.boot")).getText()).matches("[0-9.]+ s");
        assertThat(m1.findElements(By.cssSelector(".check.pass")))
                .extracting(WebElement::getText)
                .containsExactly("✓ kernel-version", "✓ units-active");
        assertThat(rows.get(2).getAttribute("data-state")).isEqualTo("booting");
        assertThat(rows.get(2).findElement(By.cssSelector("td.step")).getText()).startsWith("metadata-fetched");

        // Validation verdicts of the versions in use; channels and rollouts do not exist yet.
        assertThat(browser.findElement(By.cssSelector("tr.version[data-image='debian-node:1.0.0']"))
                        .getText())
                .contains("validated (kv000001");
        assertThat(browser.findElement(By.cssSelector("tr.version[data-image='debian-node:1.0.1']"))
                        .getText())
                .contains("failed (kv000002");
        assertThat(browser.findElement(By.id("channels")).getText()).isEqualTo("none");
        assertThat(browser.findElement(By.id("rollouts")).getText()).isEqualTo("none");
        screenshot("fleet-page.png");

        // A node reports: the page follows without a reload, and the newly failed node moves up.
        assertThat(fleet.report(FleetFixture.W1, "failed", "kubelet: bootstrap token rejected", null, null))
                .isEqualTo(204);
        awaitTrue(
                "w1 shown as failed",
                () -> rows().stream()
                        .anyMatch(r -> "w1".equals(r.getAttribute("data-name"))
                                && "failed".equals(r.getAttribute("data-state"))));
        assertThat(rows()).extracting(r -> r.getAttribute("data-name")).containsExactly("m2", "w1", "w2", "m1");
        assertThat(rows().get(1).findElement(By.cssSelector(".reason")).getText())
                .isEqualTo("kubelet: bootstrap token rejected");
        assertThat(browser.findElement(By.id("summary")).getText()).contains("2 failed");
        screenshot("fleet-page-updated.png");
    }

    private List<WebElement> rows() {
        return browser.findElements(By.cssSelector("table.cluster tbody tr.node"));
    }

    /** Polls the page (it redraws every 2 s) for up to 15 s. */
    private void awaitTrue(String what, Supplier<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (condition.get()) {
                    return;
                }
            } catch (WebDriverException redrawn) {
                // A row replaced between finding and reading it: look again.
            }
            Thread.sleep(200);
        }
        screenshot("fleet-page-timeout.png");
        throw new AssertionError("the page never showed "
                + what
                + "; status line: "
                + browser.findElement(By.id("status")).getText()
                + "; see target/fleet-page-timeout.png");
    }

    private void screenshot(String name) throws Exception {
        File shot = browser.getScreenshotAs(OutputType.FILE);
        Path target = Path.of("target").resolve(name);
        Files.createDirectories(target.getParent());
        Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
    }
}

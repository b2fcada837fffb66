package dev.kiln.builder.template;

import freemarker.cache.ClassTemplateLoader;
import freemarker.cache.FileTemplateLoader;
import freemarker.cache.MultiTemplateLoader;
import freemarker.cache.TemplateLoader;
import freemarker.core.ParseException;
import freemarker.template.Configuration;
import freemarker.template.Template;
import freemarker.template.TemplateException;
import freemarker.template.TemplateExceptionHandler;
import freemarker.template.TemplateNotFoundException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Renders build-time templates with FreeMarker in square-bracket syntax ({@code [=x]}, {@code
 * [#if]}), so shell {@code ${...}} and runtime {@code @@placeholders@@} pass through untouched.
 * Templates are looked up in the spec's template directory first, then in kiln's built-in templates
 * (the node agent, units, initramfs scripts) packed into the jar.
 */
public final class TemplateRenderer {
    /** Classpath folder that holds a copy of the repository's templates/ directory. */
    public static final String BUILTIN_ROOT = "/kiln-templates";

    private final Configuration config;

    public TemplateRenderer(Path templateDir) throws IOException {
        config = new Configuration(Configuration.VERSION_2_3_32);
        config.setTagSyntax(Configuration.SQUARE_BRACKET_TAG_SYNTAX);
        config.setInterpolationSyntax(Configuration.SQUARE_BRACKET_INTERPOLATION_SYNTAX);
        config.setDefaultEncoding("UTF-8");
        config.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
        config.setLogTemplateExceptions(false);
        config.setWrapUncheckedExceptions(true);
        config.setFallbackOnNullLoopVariable(false);
        config.setLocalizedLookup(false);
        config.setNumberFormat("computer");
        List<TemplateLoader> loaders = new ArrayList<>();
        if (templateDir != null && Files.isDirectory(templateDir)) {
            loaders.add(new FileTemplateLoader(templateDir.toFile()));
        }
        loaders.add(new ClassTemplateLoader(TemplateRenderer.class, BUILTIN_ROOT));
        config.setTemplateLoader(new MultiTemplateLoader(loaders.toArray(TemplateLoader[]::new)));
    }

    /** Renders a named template; failures carry the template name and line. */
    public String render(String name, Map<String, Object> model) throws RenderException {
        try {
            Template t = config.getTemplate(name);
            return process(t, model);
        } catch (TemplateNotFoundException e) {
            throw new RenderException("template '"
                    + name
                    + "' not found (looked in the spec's templates directory and kiln's built-in templates)");
        } catch (ParseException e) {
            throw new RenderException(
                    "template '" + name + "' line " + e.getLineNumber() + ": " + e.getEditorMessage());
        } catch (IOException e) {
            throw new RenderException("template '" + name + "': " + e.getMessage());
        }
    }

    /** Renders literal text (a file's inline content) with the same syntax. */
    public String renderInline(String label, String text, Map<String, Object> model) throws RenderException {
        try {
            return process(new Template(label, new StringReader(text), config), model);
        } catch (ParseException e) {
            throw new RenderException(label + " line " + e.getLineNumber() + ": " + e.getEditorMessage());
        } catch (IOException e) {
            throw new RenderException(label + ": " + e.getMessage());
        }
    }

    private static String process(Template t, Map<String, Object> model) throws RenderException {
        StringWriter out = new StringWriter();
        try {
            t.process(model, out);
        } catch (TemplateException e) {
            String where = e.getLineNumber() == null ? "" : " line " + e.getLineNumber();
            throw new RenderException(
                    "template '" + t.getName() + "'" + where + ": " + firstLine(e.getMessageWithoutStackTop()));
        } catch (IOException e) {
            throw new RenderException("template '" + t.getName() + "': " + e.getMessage());
        }
        return out.toString();
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** A template is missing, does not parse, or references something undefined. */
    public static final class RenderException extends Exception {
        public RenderException(String message) {
            super(message);
        }
    }
}

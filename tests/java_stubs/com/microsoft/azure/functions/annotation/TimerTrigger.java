// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions.annotation;

import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
public @interface TimerTrigger {
    String name();
    String dataType() default "";
    String schedule();
    boolean runOnStartup() default false;
    boolean useMonitor() default true;
}

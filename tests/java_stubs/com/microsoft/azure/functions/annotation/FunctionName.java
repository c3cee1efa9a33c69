// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions.annotation;

import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface FunctionName {
    String value();
}

/** This package's version, for --version (package.json is not in the JSR package; a test keeps the three equal). */
export const PACKAGE_VERSION = "0.2.0";

// The bindings ship TypeScript sources: Next compiles a package from node_modules only when told.
/** @type {import('next').NextConfig} */
export default { transpilePackages: ["@rivvi/bindings"] };

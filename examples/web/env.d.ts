// Vite's asset imports, as the page uses them.
declare module "*?url" {
  const url: string;
  export default url;
}

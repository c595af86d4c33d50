export declare const rulesDir: string;
export declare const target: string;
export declare function renderPrometheusRule(): string;

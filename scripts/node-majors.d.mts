export declare const NODE_MAJORS: Record<string, string>;
export declare function nodeBinary(major: string): string;

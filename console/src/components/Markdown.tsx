import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";

/**
 * A chart's README rendered from Markdown (its own chunk). react-markdown builds React elements
 * and ignores raw HTML, so a README cannot run script or inject markup; links open in a new tab
 * without the opener.
 */
export default function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown" data-testid="readme">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        components={{
          a: ({ href, children }) => (
            <a href={href} target="_blank" rel="noopener noreferrer">
              {children}
            </a>
          ),
          // Headings inside a README sit below the page's own.
          h1: ({ children }) => <h2>{children}</h2>,
          h2: ({ children }) => <h3>{children}</h3>,
        }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}

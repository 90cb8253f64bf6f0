// Shell completion for bash and zsh, written from the same command definitions as the help, so the
// two cannot drift apart. zsh loads it through bashcompinit, which zsh ships for exactly this.
import type { Command, Option } from 'commander';

const FILE_OPTIONS = new Set(['--input', '--output']);

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const commands = program.commands.filter((command) => !(command as unknown as { _hidden?: boolean })._hidden);
  const optionsOf = (command: Command) => [...command.options.map((option: Option) => option.long ?? option.short ?? ''), '--help'].filter(Boolean).join(' ');
  const choices = new Map<string, string>();
  const walk = (command: Command) => {
    for (const option of command.options) if (option.long && option.argChoices) choices.set(option.long, option.argChoices.join(' '));
    command.commands.forEach(walk);
  };
  walk(program);
  const cases = commands
    .map((command) => {
      const sub = command.commands.map((child) => child.name()).join(' ');
      const words = sub ? sub : optionsOf(command);
      const nested = command.commands.map((child) => `        ${child.name()}) words="${optionsOf(child)}" ;;`).join('\n');
      return sub
        ? `    ${command.name()})\n      if [[ \${COMP_CWORD} -eq 2 ]]; then words="${words}"; else case "\${COMP_WORDS[2]}" in\n${nested}\n      esac; fi ;;`
        : `    ${command.name()}) words="${words}" ;;`;
    })
    .join('\n');
  const valueCases = [
    ...[...choices].map(([option, values]) => `    ${option}) COMPREPLY=($(compgen -W "${values}" -- "\${current}")); return ;;`),
    `    ${[...FILE_OPTIONS].join('|')}) COMPREPLY=($(compgen -f -- "\${current}")); return ;;`,
  ].join('\n');
  const bash = `# kubeha completion for ${shell}. Load it with: source <(kubeha completion ${shell})
_kubeha() {
  local current="\${COMP_WORDS[COMP_CWORD]}" previous="\${COMP_WORDS[COMP_CWORD-1]}" words
  COMPREPLY=()
  case "\${previous}" in
${valueCases}
  esac
  if [[ \${COMP_CWORD} -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${commands.map((command) => command.name()).join(' ')} --help --version" -- "\${current}"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "\${words}" -- "\${current}"))
}
complete -F _kubeha kubeha
`;
  return shell === 'bash' ? bash : `#compdef kubeha\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

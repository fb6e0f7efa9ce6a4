using ElmanRnn.Cli;

return Demo.Run(Console.Out);
